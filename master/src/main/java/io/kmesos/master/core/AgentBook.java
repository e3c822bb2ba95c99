package io.kmesos.master.core;

import io.kmesos.api.resources.Resources;
import java.util.Collection;
import java.util.Collections;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The agents the master knows (admitted by the shell and registered with this master), whether each
 * has a live session, the agents removed as gone by an operator, the agents marked unreachable, and
 * (after a failover) the admitted agents still expected to re-register.
 *
 * <p>Guarantees: an agent is known from its first (re-)registration until it is removed or marked
 * unreachable; an unreachable agent is known again when it re-registers; a gone agent is never
 * known again (the shell refuses it, REASON_AGENT_GONE); iteration is in agent ID order. An ID is
 * in at most one of known, unreachable, recovering and gone.
 */
final class AgentBook {
  /** One agent. Mutable, owned by this book. */
  static final class Agent {
    final String id;
    String hostname;
    Resources total;
    boolean connected;

    Agent(String id, String hostname, Resources total) {
      this.id = id;
      this.hostname = hostname;
      this.total = total;
    }
  }

  private final TreeMap<String, Agent> agents = new TreeMap<>();
  private final Set<String> gone = new TreeSet<>();
  private final Set<String> unreachable = new TreeSet<>();
  private final Set<String> recovering = new TreeSet<>();

  Agent get(String agentId) {
    return agents.get(agentId);
  }

  /** Whether it is known and has a live session. */
  boolean connected(String agentId) {
    Agent agent = agents.get(agentId);
    return agent != null && agent.connected;
  }

  Collection<Agent> all() {
    return Collections.unmodifiableCollection(agents.values());
  }

  /** Adds the agent, or updates it if known; either way it is connected now. */
  Agent put(String agentId, String hostname, Resources total) {
    unreachable.remove(agentId);
    recovering.remove(agentId);
    Agent agent = agents.computeIfAbsent(agentId, id -> new Agent(id, hostname, total));
    agent.hostname = hostname;
    agent.total = total;
    agent.connected = true;
    return agent;
  }

  /** Forgets the agent; a {@code gone} one is remembered as such. */
  void remove(String agentId, boolean gone) {
    agents.remove(agentId);
    unreachable.remove(agentId);
    recovering.remove(agentId);
    if (gone) {
      this.gone.add(agentId);
    }
  }

  boolean isGone(String agentId) {
    return gone.contains(agentId);
  }

  /** Forgets the agent as known (or expected) and remembers it as unreachable. */
  void markUnreachable(String agentId) {
    agents.remove(agentId);
    recovering.remove(agentId);
    unreachable.add(agentId);
  }

  boolean isUnreachable(String agentId) {
    return unreachable.contains(agentId);
  }

  /** After a failover: the registry's admitted agents, expected to re-register. */
  void expect(Collection<String> agentIds) {
    for (String id : agentIds) {
      if (!agents.containsKey(id) && !gone.contains(id) && !unreachable.contains(id)) {
        recovering.add(id);
      }
    }
  }

  /** Whether the agent is admitted and expected to re-register after a failover. */
  boolean isRecovering(String agentId) {
    return recovering.contains(agentId);
  }
}
