package io.kmesos.framework.state;

import static org.assertj.core.api.Assertions.assertThat;

import io.kmesos.api.operator.v1.Agent;
import io.kmesos.api.operator.v1.Framework;
import io.kmesos.api.operator.v1.GetStateResponse;
import io.kmesos.api.text.ReadableProto;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.MasterInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.api.v1.Task;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.framework.ResourceText;
import org.junit.jupiter.api.Test;

/** What kmesos-state prints. */
class StateTablesTest {
  static final GetStateResponse STATE =
      GetStateResponse.newBuilder()
          .setMasterInfo(
              MasterInfo.newBuilder()
                  .setId("m1")
                  .setAddress("10.0.0.1:5050")
                  .setLeaderIdentity("controller-0")
                  .setVersion("0.1.0"))
          .addFrameworks(
              Framework.newBuilder()
                  .setInfo(
                      FrameworkInfo.newBuilder()
                          .setId("fw-1")
                          .setName("web")
                          .addRoles("web")
                          .setPrincipal("system:serviceaccount:apps:web"))
                  .setConnected(true)
                  .setActive(true)
                  .addAllUsedResources(ResourceText.parse("cpus:0.5;mem:64")))
          .addAgents(
              Agent.newBuilder()
                  .setId("a1")
                  .setHostname("node-1")
                  .setConnected(true)
                  .setVersion("0.1.0")
                  .addAllResources(ResourceText.parse("cpus:4;mem:8192;disk:1000"))
                  .addAllUsedResources(ResourceText.parse("cpus:0.5;mem:64")))
          .addTasks(
              Task.newBuilder()
                  .setFrameworkId("fw-1")
                  .setState(TaskState.TASK_RUNNING)
                  .setInfo(
                      TaskInfo.newBuilder()
                          .setTaskId("web-0")
                          .setName("web")
                          .setAgentId("a1")
                          .addAllResources(ResourceText.parse("cpus:0.5;mem:64"))))
          .build();

  @Test
  void tables() {
    assertThat(StateTables.format(STATE))
        .isEqualTo(
            """
            MASTER 10.0.0.1:5050  id m1  leader controller-0  version 0.1.0

            FRAMEWORKS (1)
              ID    NAME  ROLES  PRINCIPAL                       CONNECTION  ACTIVE  USED
              fw-1  web   web    system:serviceaccount:apps:web  connected   yes     cpus:0.5;mem:64

            AGENTS (1)
              ID  HOSTNAME  CONNECTED  RESOURCES                  USED             VERSION
              a1  node-1    yes        cpus:4;disk:1000;mem:8192  cpus:0.5;mem:64  0.1.0

            TASKS (1)
              ID     NAME  FRAMEWORK  AGENT  STATE         RESOURCES
              web-0  web   fw-1       a1     TASK_RUNNING  cpus:0.5;mem:64

            OFFERS (0)
              (none)

            """);
  }

  @Test
  void offersAndYaml() {
    GetStateResponse withOffer =
        STATE.toBuilder()
            .addOffers(
                Offer.newBuilder()
                    .setId("o1")
                    .setFrameworkId("fw-1")
                    .setAgentId("a1")
                    .setHostname("node-1")
                    .setAllocationRole("web")
                    .addAllResources(ResourceText.parse("cpus:3.5;mem:8128;disk:1000")))
            .build();
    assertThat(StateTables.format(withOffer))
        .contains(
            """
            OFFERS (1)
              ID  FRAMEWORK  AGENT  HOSTNAME  ROLE  RESOURCES
              o1  fw-1       a1     node-1    web   cpus:3.5;disk:1000;mem:8128
            """);
    assertThat(ReadableProto.yaml(withOffer))
        .contains("frameworks:")
        .contains("taskId: web-0")
        .contains("allocationRole: web");
  }
}
