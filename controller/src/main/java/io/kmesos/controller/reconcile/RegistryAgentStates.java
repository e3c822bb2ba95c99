package io.kmesos.controller.reconcile;

import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.kmesos.api.registry.v1.AgentState;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What each Agent's status last showed of the registry, by agent ID: the registry changes an
 * agent's state without any change to its resource (the master marks it unreachable, or admits it
 * again when it comes back), so nothing would reconcile it and its status would keep saying
 * Admitted. The reconciler records here what it wrote; a poll of the registry compares and
 * re-reconciles the Agents whose status is behind.
 */
final class RegistryAgentStates {
  private record Shown(ResourceID resource, AgentState state) {}

  private final Map<String, Shown> shown = new ConcurrentHashMap<>();

  /** The Agent {@code resource} with this agent ID now shows {@code state}. */
  void shown(String agentId, ResourceID resource, AgentState state) {
    shown.put(agentId, new Shown(resource, state));
  }

  /** The Agent is deleted. */
  void forget(String agentId) {
    shown.remove(agentId);
  }

  /**
   * The Agents whose status shows another state than {@code registry} holds (an ID absent from it:
   * not in the registry, which a reconcile decides). Each is reported once per change.
   */
  List<ResourceID> behind(Map<String, AgentState> registry) {
    List<ResourceID> due = new ArrayList<>();
    for (Map.Entry<String, Shown> e : shown.entrySet()) {
      AgentState now = registry.get(e.getKey());
      if (now != null && now != e.getValue().state()) {
        due.add(e.getValue().resource());
        // Once: the reconcile it triggers records the state again; until then, not asked twice.
        shown.put(e.getKey(), new Shown(e.getValue().resource(), now));
      }
    }
    return due;
  }
}
