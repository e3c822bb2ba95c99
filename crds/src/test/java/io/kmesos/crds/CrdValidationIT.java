package io.kmesos.crds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.crds.v1alpha1.AgentSpec;
import io.kmesos.crds.v1alpha1.MachineId;
import io.kmesos.crds.v1alpha1.MaintenanceSchedule;
import io.kmesos.crds.v1alpha1.MaintenanceScheduleSpec;
import io.kmesos.crds.v1alpha1.MaintenanceWindow;
import io.kmesos.crds.v1alpha1.Quota;
import io.kmesos.crds.v1alpha1.QuotaSpec;
import io.kmesos.crds.v1alpha1.Weight;
import io.kmesos.crds.v1alpha1.WeightSpec;
import io.kmesos.devcluster.WithKubeApiServer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The generated CRDs, installed in a real kube-apiserver, accept good objects and name the field of bad ones. */
@WithKubeApiServer
class CrdValidationIT {
  private final KubernetesClient client;

  CrdValidationIT(KubernetesClient client) {
    this.client = client;
  }

  @BeforeAll
  static void installCrds(KubernetesClient client) {
    assertThat(KmesosCrds.install(client, Duration.ofSeconds(60))).hasSize(4);
  }

  @Test
  void everyKindIsServedAndListedUnderTheKmesosCategory() {
    var resources = client.getApiResources("kmesos.io/v1alpha1").getResources();
    assertThat(resources).extracting(r -> r.getName())
        .contains("agents", "quotas", "weights", "maintenanceschedules");
    assertThat(resources).filteredOn(r -> !r.getName().contains("/"))
        .allSatisfy(r -> assertThat(r.getCategories()).contains("kmesos"))
        .allSatisfy(r -> assertThat(r.getNamespaced()).isFalse());
  }

  @Test
  void weightOfZeroIsRejectedNamingTheField() {
    assertThatThrownBy(() -> client.resource(weight("zero", "analytics", 0.0)).create())
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> {
          assertThat(e.getCode()).isEqualTo(422);
          assertThat(e.getMessage()).contains("spec.weight").contains("should be greater than 0");
        });
    assertThat(client.resources(Weight.class).withName("zero").get()).isNull();
  }

  @Test
  void badRoleNameIsRejectedNamingTheField() {
    assertThatThrownBy(() -> client.resource(weight("dots", "../etc", 1.0)).create())
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> {
          assertThat(e.getCode()).isEqualTo(422);
          assertThat(e.getMessage()).contains("spec.role");
        });
  }

  @Test
  void quotaGuaranteeAboveLimitIsRejectedByTheCelRule() {
    Quota quota = new Quota();
    quota.setMetadata(new ObjectMetaBuilder().withName("too-much").build());
    QuotaSpec spec = new QuotaSpec();
    spec.setRole("analytics");
    spec.setGuarantees(Map.of("cpus", 8.0));
    spec.setLimits(Map.of("cpus", 4.0));
    quota.setSpec(spec);
    assertThatThrownBy(() -> client.resource(quota).create())
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> {
          assertThat(e.getCode()).isEqualTo(422);
          assertThat(e.getMessage())
              .contains("spec.guarantees")
              .contains("must not exceed spec.limits");
        });

    spec.setGuarantees(Map.of("cpus", 2.0));
    assertThat(client.resource(quota).create().getSpec().getGuarantees()).containsEntry("cpus", 2.0);
  }

  @Test
  void maintenanceWindowNeedsAMachineAndAPositiveDuration() {
    MaintenanceWindow window = new MaintenanceWindow();
    window.setStart("2026-12-01T02:00:00Z");
    window.setDurationSeconds(0L);
    MaintenanceScheduleSpec spec = new MaintenanceScheduleSpec();
    spec.setWindows(List.of(window));
    MaintenanceSchedule schedule = new MaintenanceSchedule();
    schedule.setMetadata(new ObjectMetaBuilder().withName("december").build());
    schedule.setSpec(spec);

    assertThatThrownBy(() -> client.resource(schedule).create())
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getMessage())
            .contains("spec.windows[0].machines")
            .contains("spec.windows[0].durationSeconds"));

    window.setMachines(List.of(new MachineId("node-1", null)));
    window.setDurationSeconds(3600L);
    assertThat(client.resource(schedule).create().getSpec().getWindows()).hasSize(1);
  }

  @Test
  void negativeQuantitiesAreRejectedNamingTheField() {
    Quota quota = new Quota();
    quota.setMetadata(new ObjectMetaBuilder().withName("negative").build());
    QuotaSpec spec = new QuotaSpec();
    spec.setRole("analytics");
    spec.setLimits(Map.of("cpus", -1.0));
    quota.setSpec(spec);
    assertThatThrownBy(() -> client.resource(quota).create())
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getMessage())
            .contains("spec.limits").contains("every quantity in spec.limits must be non-negative"));

    Agent agent = new Agent();
    agent.setMetadata(new ObjectMetaBuilder().withName("negative-node").build());
    AgentSpec agentSpec = new AgentSpec();
    agentSpec.setHostname("negative-node.cluster.local");
    agentSpec.setResources(Map.of("mem", -512.0));
    agent.setSpec(agentSpec);
    assertThatThrownBy(() -> client.resource(agent).create())
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getMessage()).contains("spec.resources"));
  }

  @Test
  void aRoleCannotBeChangedOnceSet() {
    client.resource(weight("fixed", "analytics", 2.0)).create();
    assertThatThrownBy(() -> client.resources(Weight.class).withName("fixed").edit(w -> {
      w.getSpec().setRole("batch");
      return w;
    })).isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getMessage())
        .contains("spec.role").contains("spec.role cannot be changed"));
    assertThat(client.resources(Weight.class).withName("fixed").get().getSpec().getRole()).isEqualTo("analytics");
  }

  @Test
  void aMaintenanceWindowStartMustBeATime() {
    MaintenanceWindow window = new MaintenanceWindow();
    window.setStart("next tuesday");
    window.setDurationSeconds(3600L);
    window.setMachines(List.of(new MachineId("node-1", null)));
    MaintenanceScheduleSpec spec = new MaintenanceScheduleSpec();
    spec.setWindows(List.of(window));
    MaintenanceSchedule schedule = new MaintenanceSchedule();
    schedule.setMetadata(new ObjectMetaBuilder().withName("whenever").build());
    schedule.setSpec(spec);
    assertThatThrownBy(() -> client.resource(schedule).create())
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getMessage())
            .contains("spec.windows[0].start"));
  }

  @Test
  void serverSideApplyingTheSameObjectTwiceChangesNothing() {
    Weight w = weight("batch", "batch", 2.5);
    Weight first = client.resource(w).fieldManager("gitops").serverSideApply();
    Weight second = client.resource(weight("batch", "batch", 2.5)).fieldManager("gitops").serverSideApply();

    assertThat(second.getMetadata().getResourceVersion()).isEqualTo(first.getMetadata().getResourceVersion());
    assertThat(second.getMetadata().getGeneration()).isEqualTo(1L);
    assertThat(second.getSpec().getWeight()).isEqualTo(2.5);
  }

  private static Weight weight(String name, String role, double value) {
    Weight w = new Weight();
    w.setMetadata(new ObjectMetaBuilder().withName(name).build());
    WeightSpec spec = new WeightSpec();
    spec.setRole(role);
    spec.setWeight(value);
    w.setSpec(spec);
    return w;
  }
}
