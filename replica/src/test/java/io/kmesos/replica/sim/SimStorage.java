package io.kmesos.replica.sim;

import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.Metadata;
import io.kmesos.replica.core.Effects;
import io.kmesos.replica.core.ReplicaStorage;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * A replica's disk in the simulation: what was written but not synced is lost in a crash, what
 * was synced survives; a wipe loses everything. Sync covers every earlier write, as fsync of a
 * write-ahead log does.
 */
final class SimStorage implements ReplicaStorage {
  private Metadata metadata;
  private TreeMap<Long, Action> actions = new TreeMap<>();
  private Metadata durableMetadata;
  private TreeMap<Long, Action> durableActions = new TreeMap<>();
  private boolean dirty;

  @Override
  public Metadata metadata() {
    return metadata;
  }

  @Override
  public List<Action> range(long from, long to, int limit) {
    List<Action> out = new ArrayList<>();
    if (from > to) {
      return out;
    }
    for (Action a : actions.subMap(from, true, to, true).values()) {
      if (out.size() >= limit) {
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
    if (p.deleteAll()) {
      actions.clear();
    }
    if (p.deleteBelow() > 0) {
      actions.headMap(p.deleteBelow(), false).clear();
    }
    if (p.metadata() != null) {
      metadata = p.metadata();
    }
    for (Action a : p.actions()) {
      actions.put(a.getPosition(), a);
    }
    dirty = true;
    if (p.sync()) {
      sync();
    }
  }

  void sync() {
    if (dirty) {
      durableMetadata = metadata;
      durableActions = new TreeMap<>(actions);
      dirty = false;
    }
  }

  /** A crash: unsynced writes are gone. */
  void crash() {
    metadata = durableMetadata;
    actions = new TreeMap<>(durableActions);
    dirty = false;
  }

  /** The disk is replaced by an empty one. */
  void wipe() {
    metadata = null;
    durableMetadata = null;
    actions = new TreeMap<>();
    durableActions = new TreeMap<>();
    dirty = false;
  }

  /** Everything currently stored (for the invariant checks). */
  TreeMap<Long, Action> all() {
    return actions;
  }
}
