package io.kmesos.master.core;

import java.util.List;
import java.util.Optional;

/**
 * What one input of {@link MasterCore} asks its shell to do, in this order: store {@link
 * #frameworkRecords()} in the registry (each record's {@link FrameworkRecord#operation()}, in
 * order) and wait until they are committed; then answer the call (with {@link #refusal()}'s status
 * if present, OK otherwise), write {@link #events()} to the frameworks' streams and {@link
 * #commands()} to the agents' sessions (each list in order), complete the streams of {@link
 * #endedSubscriptions()}, and log {@link #removedFrameworks()}. Nothing here has happened yet
 * outside the core: the shell only moves these messages.
 *
 * <p>Why the wait: a framework must be in the registry before it learns its ID (the {@code
 * subscribed} event), and a later master must never see it as disconnected since a time before it
 * came back; the simplest shell holds this Effects, and every later one, until the records commit.
 * If a record fails to store (the registrar stopped, or refused it: the core and the registry
 * disagree), the shell delivers nothing more and gives up mastership: a new master recovers from
 * what was committed (docs/registry.md, "Frameworks").
 *
 * <p>Records of protos, so two {@code Effects} are {@link #equals equal} when they say the same
 * thing: the basis of the core's determinism tests.
 */
public record Effects(
    Optional<Refusal> refusal,
    List<FrameworkEvent> events,
    List<AgentCommand> commands,
    List<SubscriptionEnded> endedSubscriptions,
    List<FrameworkRemoved> removedFrameworks,
    List<FrameworkRecord> frameworkRecords) {

  public static final Effects NONE =
      new Effects(Optional.empty(), List.of(), List.of(), List.of(), List.of(), List.of());

  public Effects {
    events = List.copyOf(events);
    commands = List.copyOf(commands);
    endedSubscriptions = List.copyOf(endedSubscriptions);
    removedFrameworks = List.copyOf(removedFrameworks);
    frameworkRecords = List.copyOf(frameworkRecords);
  }

  /** Effects without registry records (as before frameworks were stored). */
  public Effects(
      Optional<Refusal> refusal,
      List<FrameworkEvent> events,
      List<AgentCommand> commands,
      List<SubscriptionEnded> endedSubscriptions,
      List<FrameworkRemoved> removedFrameworks) {
    this(refusal, events, commands, endedSubscriptions, removedFrameworks, List.of());
  }

  /** Whether the call was refused. */
  public boolean refused() {
    return refusal.isPresent();
  }

  /** The events for one framework, whatever the stream. */
  public List<FrameworkEvent> eventsFor(String frameworkId) {
    return events.stream().filter(e -> e.frameworkId().equals(frameworkId)).toList();
  }

  /** The commands for one agent. */
  public List<AgentCommand> commandsFor(String agentId) {
    return commands.stream().filter(c -> c.agentId().equals(agentId)).toList();
  }
}
