package io.kmesos.master.server;

import java.util.Map;
import java.util.Set;

/**
 * What the master's shell needs of the registry, as the controller last saw it committed: which
 * agents are admitted (only they may open a session, with the hostname they were admitted with),
 * which are unreachable or gone, and the roles' weights.
 *
 * @param admitted hostname by agent ID, for agents in state ADMITTED
 * @param unreachable IDs of agents marked UNREACHABLE (they may come back: nothing is removed)
 * @param gone IDs of agents an operator declared GONE (they never come back)
 * @param weights weight by role; a role not listed weighs 1
 * @param registered IDs of admitted agents whose agent process registered with a master before
 *     (registry {@code registered_at}): after a failover, only they are expected back
 */
public record RegistryView(
    Map<String, String> admitted,
    Set<String> unreachable,
    Set<String> gone,
    Map<String, Double> weights,
    Set<String> registered) {

  public static final RegistryView EMPTY =
      new RegistryView(Map.of(), Set.of(), Set.of(), Map.of(), Set.of());

  public RegistryView {
    registered = Set.copyOf(registered);
    admitted = Map.copyOf(admitted);
    unreachable = Set.copyOf(unreachable);
    gone = Set.copyOf(gone);
    weights = Map.copyOf(weights);
  }
}
