package io.kmesos.controller.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.kmesos.api.registry.v1.AgentState;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RegistryAgentStatesTest {
  final RegistryAgentStates states = new RegistryAgentStates();
  final ResourceID nodeA = new ResourceID("node-a");
  final ResourceID nodeB = new ResourceID("node-b");

  @Test
  void anAgentTheMasterMarksUnreachableIsReconciledOncePerChange() {
    states.shown("a", nodeA, AgentState.ADMITTED);
    states.shown("b", nodeB, AgentState.ADMITTED);
    assertThat(states.behind(Map.of("a", AgentState.ADMITTED, "b", AgentState.ADMITTED))).isEmpty();

    assertThat(states.behind(Map.of("a", AgentState.UNREACHABLE, "b", AgentState.ADMITTED)))
        .containsExactly(nodeA);
    assertThat(states.behind(Map.of("a", AgentState.UNREACHABLE, "b", AgentState.ADMITTED)))
        .as("asked once, not on every poll")
        .isEmpty();

    // Back: admitted again by the master.
    assertThat(states.behind(Map.of("a", AgentState.ADMITTED, "b", AgentState.ADMITTED)))
        .containsExactly(nodeA);
  }

  @Test
  void agentsNotInTheRegistryOrDeletedAreLeftToTheirReconcile() {
    states.shown("a", nodeA, AgentState.ADMITTED);
    assertThat(states.behind(Map.of())).isEmpty();
    states.forget("a");
    assertThat(states.behind(Map.of("a", AgentState.UNREACHABLE))).isEmpty();
  }
}
