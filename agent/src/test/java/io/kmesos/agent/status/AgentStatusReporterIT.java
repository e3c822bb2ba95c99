package io.kmesos.agent.status;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.kmesos.crds.KmesosCrds;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.crds.v1alpha1.AgentSpec;
import io.kmesos.crds.v1alpha1.AgentStatus;
import io.kmesos.devcluster.WithKubeApiServer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The agent's status report against a real kube-apiserver, next to the controller's status writes
 * (done here as the controller's reconcilers do them: a forced server-side apply of a copy of the
 * status it read, at that resourceVersion, with its own field manager): neither removes the other's
 * fields, and the labels stay the user's.
 */
@WithKubeApiServer
class AgentStatusReporterIT {
  static final Duration PATIENCE = Duration.ofSeconds(120);
  static final String CONTROLLER = "agentreconciler";

  /** What the controller's reconciler sends: its status copy, with the object's identity. */
  static void controllerWrites(KubernetesClient client, String name, String reason) {
    Agent now = client.resources(Agent.class).withName(name).get();
    AgentStatus status =
        now.getStatus() == null
            ? new AgentStatus()
            : Serialization.unmarshal(Serialization.asJson(now.getStatus()), AgentStatus.class);
    status.setAgentId(now.getMetadata().getUid());
    status.setState("Admitted");
    status.setConditions(
        List.of(
            new ConditionBuilder()
                .withType("Ready")
                .withStatus("True")
                .withReason(reason)
                .withMessage("in the registry")
                .withLastTransitionTime("2026-01-01T00:00:00Z")
                .build()));
    Agent patch = new Agent();
    patch.setMetadata(
        new ObjectMetaBuilder()
            .withName(name)
            .withResourceVersion(now.getMetadata().getResourceVersion())
            .build());
    patch.setStatus(status);
    client
        .resource(patch)
        .subresource("status")
        .patch(
            new PatchContext.Builder()
                .withFieldManager(CONTROLLER)
                .withForce(true)
                .withPatchType(PatchType.SERVER_SIDE_APPLY)
                .build());
  }

  @Test
  void agentFieldsAndControllerFieldsCoexist(KubernetesClient client) {
    KmesosCrds.install(client, PATIENCE);
    Agent agent = new Agent();
    agent.getMetadata().setName("node-s");
    agent.getMetadata().setLabels(Map.of("team", "a"));
    agent.setSpec(new AgentSpec());
    agent.getSpec().setHostname("node-s");
    agent.getSpec().setResources(Map.of("cpus", 4.0, "mem", 1024.0));
    client.resource(agent).fieldManager("kmesos-agent").forceConflicts().serverSideApply();
    controllerWrites(client, "node-s", "InRegistry");

    AtomicReference<AgentStatusReporter.Report> report =
        new AtomicReference<>(
            new AgentStatusReporter.Report(
                2, Map.of("cpus", 1.5, "mem", 256.0), Map.of("cpus", 2.5, "mem", 768.0)));
    Clock clock = Clock.fixed(Instant.parse("2026-12-05T12:00:00Z"), ZoneOffset.UTC);
    try (AgentStatusReporter reporter =
        new AgentStatusReporter(client, "node-s", report::get, clock)) {
      assertThat(reporter.reportIfChanged()).isTrue();
      assertThat(reporter.reportIfChanged()).as("nothing changed: nothing written").isFalse();

      AgentStatus status = client.resources(Agent.class).withName("node-s").get().getStatus();
      assertThat(status.getTasksRunning()).isEqualTo(2);
      assertThat(status.getResourcesUsed()).isEqualTo(Map.of("cpus", 1.5, "mem", 256.0));
      assertThat(status.getResourcesFree()).isEqualTo(Map.of("cpus", 2.5, "mem", 768.0));
      assertThat(status.getReportedAt()).isEqualTo("2026-12-05T12:00:00Z");
      assertThat(status.getState()).as("the controller's").isEqualTo("Admitted");
      assertThat(status.getConditions())
          .extracting(Condition::getReason)
          .containsExactly("InRegistry");

      // The controller writes again (its copy includes the agent's fields as they are now) ...
      controllerWrites(client, "node-s", "StillInRegistry");
      // ... then the agent reports that its tasks ended.
      report.set(
          new AgentStatusReporter.Report(
              0, Map.of("cpus", 0.0, "mem", 0.0), Map.of("cpus", 4.0, "mem", 1024.0)));
      assertThat(reporter.reportIfChanged()).isTrue();
      Agent now = client.resources(Agent.class).withName("node-s").get();
      status = now.getStatus();
      assertThat(status.getTasksRunning()).isZero();
      assertThat(status.getResourcesUsed()).isEqualTo(Map.of("cpus", 0.0, "mem", 0.0));
      assertThat(status.getResourcesFree()).isEqualTo(Map.of("cpus", 4.0, "mem", 1024.0));
      assertThat(status.getConditions())
          .extracting(Condition::getReason)
          .containsExactly("StillInRegistry");
      assertThat(status.getAgentId()).isEqualTo(now.getMetadata().getUid());
      assertThat(now.getMetadata().getLabels()).isEqualTo(Map.of("team", "a"));
      assertThat(now.getSpec().getResources()).containsEntry("cpus", 4.0);
      assertThat(now.getMetadata().getManagedFields())
          .filteredOn(f -> "status".equals(f.getSubresource()))
          .extracting(f -> f.getManager())
          .contains("kmesos-agent", CONTROLLER);
    }
  }
}
