package io.kmesos.replica.core;

import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.Metadata;
import java.util.ArrayList;
import java.util.List;

/**
 * What one step of a core asks its shell to do, in order: first make {@link #persist()} durable
 * (synced to disk when {@link Persist#sync()}), then send {@link #messages()}, then report
 * {@link #events()} to the core's client. A message that depends on a write is only ever sent after
 * that write is durable, which is what makes a vote survive a crash.
 */
public final class Effects {
  /** A storage update: optional new metadata, actions to store, and positions to delete. */
  public record Persist(Metadata metadata, List<Action> actions, long deleteBelow, boolean deleteAll, boolean sync) {}

  private final List<Persist> persist = new ArrayList<>();
  private final List<Envelope> messages = new ArrayList<>();
  private final List<Object> events = new ArrayList<>();

  public List<Persist> persist() {
    return persist;
  }

  public List<Envelope> messages() {
    return messages;
  }

  /** Client-visible outcomes (writer: elected, committed, superseded, ...). */
  public List<Object> events() {
    return events;
  }

  public boolean isEmpty() {
    return persist.isEmpty() && messages.isEmpty() && events.isEmpty();
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

  Effects event(Object e) {
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
