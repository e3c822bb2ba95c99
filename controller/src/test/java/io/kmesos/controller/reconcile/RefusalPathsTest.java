package io.kmesos.controller.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.kmesos.crds.v1alpha1.RegistryStatus;
import io.kmesos.crds.v1alpha1.Weight;
import io.kmesos.crds.v1alpha1.WeightSpec;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The registry's refusals (messages as {@code Operations} and {@code Validation} word them) in the
 * resource's own fields.
 */
class RefusalPathsTest {
  @Test
  void scheduleRefusalsNameTheWindowAndMachineAsWritten() {
    RefusalPaths paths = RefusalPaths.schedule(List.of());
    assertThat(
            paths.translate(
                "update_schedule.schedule.windows[2].machine_ids[1]: machine node-1 is already in "
                    + "schedule 'other'"))
        .isEqualTo("spec.windows[2].machines[1]: machine node-1 is already in schedule 'other'");
    assertThat(
            paths.translate(
                "update_schedule.schedule.windows[0].machine_ids[3].ip '10.0.0.300' is not an IPv4 or "
                    + "IPv6 address"))
        .isEqualTo("spec.windows[0].machines[3].ip '10.0.0.300' is not an IPv4 or IPv6 address");
    assertThat(
            paths.translate(
                "update_schedule.schedule.windows[1].unavailability.duration must be positive"))
        .isEqualTo("spec.windows[1].durationSeconds must be positive");
    assertThat(
            paths.translate(
                "update_schedule.schedule: machine node-1 is DOWN and cannot be left out of its "
                    + "schedule (stop its maintenance first)"))
        .startsWith("spec.windows: machine node-1 is DOWN");
  }

  @Test
  void startMaintenanceRefusalsNameTheEntryOfSpecDown() {
    // spec.down = [a (already DOWN), b, c]: the operation takes b and c down, as its machine_ids[0]
    // and [1].
    RefusalPaths paths = RefusalPaths.schedule(List.of(1, 2));
    assertThat(
            paths.translate(
                "start_maintenance.machine_ids[1]: machine c is not in any maintenance schedule"))
        .isEqualTo("spec.down[2]: machine c is not in any maintenance schedule");
  }

  @Test
  void quotaWeightAndAgentRefusalsNameTheSpec() {
    assertThat(
            RefusalPaths.QUOTA.translate(
                "quota.guarantees[cpus] = 8.0 exceeds quota.limits[cpus] = 4.0"))
        .isEqualTo("spec.guarantees.cpus = 8.0 exceeds spec.limits.cpus = 4.0");
    assertThat(RefusalPaths.QUOTA.translate("quota.guarantees: a resource needs a name"))
        .isEqualTo("spec.guarantees: a resource needs a name");
    assertThat(
            RefusalPaths.QUOTA.translate(
                "quota.role 'a//b': empty path segment (leading, trailing or double '/')"))
        .isEqualTo("spec.role 'a//b': empty path segment (leading, trailing or double '/')");
    assertThat(
            RefusalPaths.WEIGHT.translate(
                "update_weights.weights[0].weight must be a positive number, not 0.0"))
        .isEqualTo("spec.weight must be a positive number, not 0.0");
    assertThat(
            RefusalPaths.AGENT.translate(
                "admit_agent.info.resources[mem] must be a non-negative number, not -1.0"))
        .isEqualTo("spec.resources.mem must be a non-negative number, not -1.0");
    assertThat(RefusalPaths.AGENT.translate("update_agent.info.hostname must not be empty"))
        .isEqualTo("spec.hostname must not be empty");
  }

  @Test
  void aStatusWriteCarriesTheStatusAndTheObjectsIdentityOnly() {
    Weight w = new Weight();
    w.setMetadata(
        new ObjectMetaBuilder()
            .withName("analytics")
            .withResourceVersion("42")
            .withUid("u-1")
            .withLabels(Map.of("team", "a"))
            .withAnnotations(Map.of("note", "x"))
            .withFinalizers("weight/finalizer")
            .withGeneration(3L)
            .build());
    w.setSpec(new WeightSpec());
    w.getSpec().setRole("analytics");
    w.getSpec().setWeight(2.0);
    RegistryStatus status = new RegistryStatus();
    status.setObservedGeneration(3L);

    Weight patch = RegistryReconciler.statusOnly(w, status);

    assertThat(Serialization.asJson(patch))
        .isEqualTo(
            "{\"apiVersion\":\"kmesos.io/v1alpha1\",\"kind\":\"Weight\","
                + "\"metadata\":{\"name\":\"analytics\",\"resourceVersion\":\"42\"},\"status\":{\"observedGeneration\":3}}");
    assertThat(w.getStatus()).as("the resource it was made from is left alone").isNull();
  }
}
