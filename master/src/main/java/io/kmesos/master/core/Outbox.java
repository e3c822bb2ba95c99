package io.kmesos.master.core;

import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.scheduler.v1.Event;
import io.kmesos.api.v1.TaskStatus;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Collects the effects of one input, then {@link #build}s them. It addresses events to a
 * framework's current subscription only (and notes the time, for heartbeats), and commands to
 * connected agents only: what cannot be delivered is not produced, so the shell never has to judge.
 */
final class Outbox {
  final Instant now;
  private final AgentBook agents;
  private Refusal refusal;
  private final List<FrameworkEvent> events = new ArrayList<>();
  private final List<AgentCommand> commands = new ArrayList<>();
  private final List<SubscriptionEnded> ended = new ArrayList<>();
  private final List<FrameworkRemoved> removed = new ArrayList<>();
  private final List<FrameworkRecord> records = new ArrayList<>();

  Outbox(Instant now, AgentBook agents) {
    this.now = now;
    this.agents = agents;
  }

  /** Sends the event on the framework's current subscription; dropped if it has none. */
  void send(FrameworkState framework, Event event) {
    if (framework.connected()) {
      events.add(new FrameworkEvent(framework.id, framework.streamId, event));
      framework.lastEventAt = now;
    }
  }

  void update(FrameworkState framework, TaskStatus status) {
    send(
        framework,
        Event.newBuilder().setUpdate(Event.Update.newBuilder().setStatus(status)).build());
  }

  void rescind(FrameworkState framework, String offerId) {
    send(
        framework,
        Event.newBuilder().setRescind(Event.Rescind.newBuilder().setOfferId(offerId)).build());
  }

  /** Sends the message to the agent's session; dropped if it is not connected. */
  void command(String agentId, MasterMessage message) {
    if (agents.connected(agentId)) {
      commands.add(new AgentCommand(agentId, message));
    }
  }

  /**
   * Ends the framework's current subscription (if any) with an error event saying {@code message};
   * the framework is disconnected afterwards.
   */
  void endSubscription(FrameworkState framework, SubscriptionEnded.Why why, String message) {
    if (!framework.connected()) {
      return;
    }
    send(
        framework,
        Event.newBuilder().setError(Event.Error.newBuilder().setMessage(message)).build());
    ended.add(new SubscriptionEnded(framework.id, framework.streamId, why));
    framework.streamId = null;
  }

  void removed(String frameworkId, FrameworkRemoved.Why why) {
    removed.add(new FrameworkRemoved(frameworkId, why));
  }

  /** A change for the registry (stored before anything else of this input happens). */
  void record(FrameworkRecord record) {
    records.add(record);
  }

  /** Refuses the call; the first refusal counts. */
  Outbox refuse(Refusal r) {
    if (refusal == null) {
      refusal = r;
    }
    return this;
  }

  boolean refused() {
    return refusal != null;
  }

  Effects build() {
    return new Effects(Optional.ofNullable(refusal), events, commands, ended, removed, records);
  }
}
