package io.kmesos.replica.sim;

import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.Metadata;
import io.kmesos.replica.core.Effects;
import io.kmesos.replica.core.PayloadBudget;
import io.kmesos.replica.core.ReplicaStorage;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * A replica's disk in the simulation: what was written but not synced is lost in a crash, what was
 * synced survives; a wipe loses everything. Sync covers every earlier write, as fsync of a
 * write-ahead log does.
 */
final class SimStorage implements ReplicaStorage {
  private Metadata metadata;
  private TreeMap<Long, Action> actions = new TreeMap<>();
  private Metadata durableMetadata;
  private TreeMap<Long, Action> durableActions = new TreeMap<>();

  /** Writes since the last sync, in order. */
  private final List<Effects.Persist> pending = new ArrayList<>();

  @Override
  public Metadata metadata() {
    return metadata;
  }

  @Override
  public List<Action> range(long from, long to, int limit, long maxPayloadBytes) {
    List<Action> out = new ArrayList<>();
    if (from > to) {
      return out;
    }
    PayloadBudget budget = new PayloadBudget(maxPayloadBytes);
    for (Action a : actions.subMap(from, true, to, true).values()) {
      if (out.size() >= limit || !budget.tryAdd(a)) {
        break;
      }
      out.add(a);
    }
    return out;
  }

  @Override
  public long end() {
    return actions.isEmpty() ? 0 : actions.lastKey();
  }

  void apply(Effects.Persist p) {
    metadata = applyTo(p, metadata, actions);
    pending.add(p);
    if (p.sync()) {
      sync();
    }
  }

  private static Metadata applyTo(Effects.Persist p, Metadata m, TreeMap<Long, Action> to) {
    if (p.deleteAll()) {
      to.clear();
    }
    if (p.deleteBelow() > 0) {
      to.headMap(p.deleteBelow(), false).clear();
    }
    for (Action a : p.actions()) {
      to.put(a.getPosition(), a);
    }
    return p.metadata() != null ? p.metadata() : m;
  }

  void sync() {
    for (Effects.Persist p : pending) {
      durableMetadata = applyTo(p, durableMetadata, durableActions);
    }
    pending.clear();
  }

  boolean hasUnsynced() {
    return !pending.isEmpty();
  }

  /** A crash: unsynced writes are gone. */
  void crash() {
    metadata = durableMetadata;
    actions = new TreeMap<>(durableActions);
    pending.clear();
  }

  /** The disk is replaced by an empty one. */
  void wipe() {
    metadata = null;
    durableMetadata = null;
    actions = new TreeMap<>();
    durableActions = new TreeMap<>();
    pending.clear();
  }

  /** Everything currently stored (for the invariant checks). */
  TreeMap<Long, Action> all() {
    return actions;
  }
}
