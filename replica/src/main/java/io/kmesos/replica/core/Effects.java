package io.kmesos.replica.core;

import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.Metadata;
import java.util.ArrayList;
import java.util.List;

/**
 * What one step of a core asks its shell to do, in order (the role etcd's {@code Ready} plays for
 * raft): first make {@link #persist()} durable (synced to disk when {@link Persist#sync()}), then
 * send {@link #messages()}, then hand {@link #events()} to the core's client and log the {@link
 * Event.Transition}s. A message that depends on a write is only ever sent after that write is
 * durable, which is what makes a vote survive a crash.
 */
public final class Effects {
  /**
   * A storage update, applied as one atomic batch: first delete every action ({@code deleteAll}) or
   * those below {@code deleteBelow} (0: none), then store {@code actions} and {@code metadata}
   * (null: unchanged). Build one with the named constructors.
   */
  public record Persist(
      Metadata metadata, List<Action> actions, long deleteBelow, boolean deleteAll, boolean sync) {

    /** A new promise, status or cluster ID: the metadata alone, synced. */
    public static Persist metadata(Metadata metadata) {
      return new Persist(metadata, List.of(), 0, false, true);
    }

    /**
     * Accepted or learned actions, synced, with the metadata they change (or null) and the
     * positions a learned TRUNCATE deleted: everything below {@code deleteBelow} (0: nothing).
     */
    public static Persist actions(Metadata metadata, List<Action> actions, long deleteBelow) {
      return new Persist(metadata, actions, deleteBelow, false, true);
    }

    /**
     * Starts the log over from nothing: every action is deleted and {@code metadata} stored,
     * synced.
     */
    public static Persist replaceAll(Metadata metadata) {
      return new Persist(metadata, List.of(), 0, true, true);
    }

    /**
     * Actions copied during recovery, not synced: they count only once the recovery's final
     * metadata is stored with a synced write, which makes them durable too (RocksDB keeps writes in
     * order).
     */
    public static Persist copies(List<Action> actions) {
      return new Persist(null, actions, 0, false, false);
    }
  }

  private final List<Persist> persist = new ArrayList<>();
  private final List<Envelope> messages = new ArrayList<>();
  private final List<Event> events = new ArrayList<>();

  public List<Persist> persist() {
    return persist;
  }

  public List<Envelope> messages() {
    return messages;
  }

  /** Outcomes for the core's client and its log (writer: elected, committed, superseded, ...). */
  public List<Event> events() {
    return events;
  }

  /** Whether any persisted write must be synced before the messages go out. */
  public boolean needsSync() {
    return persist.stream().anyMatch(Persist::sync);
  }

  Effects persist(Persist p) {
    persist.add(p);
    return this;
  }

  Effects send(Envelope e) {
    messages.add(e);
    return this;
  }

  Effects event(Event e) {
    events.add(e);
    return this;
  }

  /** Appends another step's effects after this one's (the shell's group commit). */
  public Effects addAll(Effects other) {
    persist.addAll(other.persist);
    messages.addAll(other.messages);
    events.addAll(other.events);
    return this;
  }
}
