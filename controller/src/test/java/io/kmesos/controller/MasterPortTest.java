package io.kmesos.controller;

import static org.assertj.core.api.Assertions.assertThat;

import io.kmesos.api.registry.v1.Agent;
import io.kmesos.api.registry.v1.AgentInfo;
import io.kmesos.api.registry.v1.AgentState;
import io.kmesos.api.registry.v1.Registry;
import io.kmesos.api.registry.v1.Weight;
import io.kmesos.master.server.RegistryView;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class MasterPortTest {
  static Agent agent(String id, String host, AgentState state) {
    return Agent.newBuilder()
        .setInfo(AgentInfo.newBuilder().setId(id).setHostname(host))
        .setState(state)
        .build();
  }

  @Test
  void theServerSeesAdmittedAgentsByIdWithTheirHostnameTheOthersAndTheWeights() {
    RegistryView view =
        MasterPort.view(
            Registry.newBuilder()
                .addAgents(agent("a1", "node-1", AgentState.ADMITTED))
                .addAgents(agent("a2", "node-2", AgentState.ADMITTED))
                .addUnreachable(agent("a3", "node-3", AgentState.UNREACHABLE))
                .addGone(agent("a4", "node-4", AgentState.GONE))
                .addWeights(Weight.newBuilder().setRole("web").setWeight(2.5))
                .build());
    assertThat(view.admitted()).isEqualTo(Map.of("a1", "node-1", "a2", "node-2"));
    assertThat(view.unreachable()).isEqualTo(Set.of("a3"));
    assertThat(view.gone()).isEqualTo(Set.of("a4"));
    assertThat(view.weights()).isEqualTo(Map.of("web", 2.5));
  }
}
