package io.kmesos.controller.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.utils.Serialization;
import io.kmesos.crds.v1alpha1.AgentStatus;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AgentStatusOwnershipTest {

  @Test
  void theControllersStatusWriteLeavesWhatTheAgentReportsToTheAgent() {
    AgentStatus status = new AgentStatus();
    status.setAgentId("72a3587f");
    status.setState("Admitted");
    status.setObservedGeneration(2L);
    status.setTasksRunning(3);
    status.setResourcesUsed(Map.of("cpus", 0.3));
    status.setResourcesFree(Map.of("cpus", 3.7));
    status.setReportedAt("2026-12-05T14:00:00Z");

    AgentStatus sent = new AgentReconciler(null, null).ownFields(status);

    assertThat(Serialization.asJson(sent))
        .isEqualTo("{\"observedGeneration\":2,\"agentId\":\"72a3587f\",\"state\":\"Admitted\"}");
    assertThat(status.getTasksRunning()).as("the status compared is left whole").isEqualTo(3);
  }
}
