package io.kmesos.replica.core;

import io.kmesos.api.log.v1.Action;
import java.util.ArrayList;
import java.util.List;

/**
 * Packs actions into groups of bounded payload, so that no message grows past what a replica
 * accepts. The first action of a group always fits (a larger one travels alone); each later one
 * only while the group's payload stays within the limit. Writes, resends and fetch answers all pack
 * this way.
 */
public final class PayloadBudget {
  private final long maxBytes;
  private long bytes;
  private boolean empty = true;

  public PayloadBudget(long maxBytes) {
    this.maxBytes = maxBytes;
  }

  /** Counts {@code a} into this group and returns true if it fits; otherwise changes nothing. */
  public boolean tryAdd(Action a) {
    long size = a.getPayload().size();
    if (!empty && bytes + size > maxBytes) {
      return false;
    }
    bytes += size;
    empty = false;
    return true;
  }

  /** {@code actions} in order, cut into groups of at most {@code maxBytes} of payload each. */
  public static List<List<Action>> pack(List<Action> actions, long maxBytes) {
    List<List<Action>> groups = new ArrayList<>();
    PayloadBudget budget = null;
    for (Action a : actions) {
      if (budget == null || !budget.tryAdd(a)) {
        budget = new PayloadBudget(maxBytes);
        budget.tryAdd(a);
        groups.add(new ArrayList<>());
      }
      groups.get(groups.size() - 1).add(a);
    }
    return groups;
  }
}
