package io.kmesos.master.core;

import io.kmesos.api.agent.v1.StatusUpdate;
import io.kmesos.api.operator.v1.GetStateResponse;
import io.kmesos.api.registry.v1.Framework;
import io.kmesos.api.resources.Resources;
import io.kmesos.api.scheduler.v1.AcceptRequest;
import io.kmesos.api.scheduler.v1.AcknowledgeRequest;
import io.kmesos.api.scheduler.v1.DeclineRequest;
import io.kmesos.api.scheduler.v1.KillRequest;
import io.kmesos.api.scheduler.v1.ReconcileRequest;
import io.kmesos.api.scheduler.v1.ReviveRequest;
import io.kmesos.api.scheduler.v1.SubscribeRequest;
import io.kmesos.api.scheduler.v1.SuppressRequest;
import io.kmesos.api.scheduler.v1.TeardownRequest;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Task;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.function.BiConsumer;

/**
 * The master's pure core (Mesos's {@code Master} without its I/O): frameworks, agents, offers and
 * tasks, driven by one input at a time, each returning the {@link Effects} the shell carries out.
 * No threads, clocks or I/O: time is the {@code now} of each input (a {@code now} earlier than one
 * already seen counts as that one: time never goes back in the core), IDs come from the {@link
 * IdSource}. Not thread-safe: the shell feeds it from one thread.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>Deterministic: the same inputs, from a core made with the same config and an {@link
 *       IdSource} in the same state, give equal {@link Effects}.
 *   <li>A scheduler call acts only for the framework it names, under its current subscription and
 *       by the principal that registered it ({@link CallCheck}); otherwise it is refused and
 *       changes nothing.
 *   <li>The books agree with the allocator: each outstanding offer and each live task is charged to
 *       its framework and role, and nothing else ({@link MasterState}).
 *   <li>Messages go only where they can be delivered: events to a framework's current subscription,
 *       commands to agents with a session ({@link Outbox}).
 *   <li>The registry holds every framework from before it learns its ID until it is removed: the
 *       core says what to store ({@link FrameworkRecord}, in the same {@link Effects} as what
 *       depends on it) only when a framework's record changes, and a master that recovered the
 *       registry ({@link #recoverFrameworks}) honours the failover timeouts of the frameworks it
 *       lists.
 * </ul>
 *
 * The rules of each input are with the class that applies them: {@link Subscriptions} (subscribe,
 * disconnect, suppress, revive, teardown, failover), {@link Launcher} (accept, decline), {@link
 * TaskCalls} (kill, acknowledge, reconcile), {@link AgentEvents} (agents and status updates) and
 * {@link Ticker} (offers, timeouts, heartbeats).
 */
public final class MasterCore {
  private final MasterState state;
  private final CallCheck calls;
  private final Subscriptions subscriptions;
  private final Launcher launcher;
  private final TaskCalls taskCalls;
  private final AgentEvents agentEvents;
  private final Ticker ticker;
  private Instant lastNow = Instant.MIN;

  public MasterCore(MasterConfig config, IdSource ids) {
    this.state =
        new MasterState(
            Objects.requireNonNull(config, "config"), Objects.requireNonNull(ids, "ids"));
    this.calls = new CallCheck(state.frameworks);
    this.subscriptions = new Subscriptions(state);
    this.launcher = new Launcher(state);
    this.taskCalls = new TaskCalls(state);
    this.agentEvents = new AgentEvents(state);
    this.ticker = new Ticker(state, subscriptions);
  }

  // ---- frameworks ------------------------------------------------------------------------------

  /**
   * The frameworks of the registry this master recovered ({@code frameworks/{id}}): the shell calls
   * it once, before any other input, with every framework the registry holds (none in a new
   * cluster). They are known as disconnected ({@code recovered} in the operator's view) and keep
   * their tasks as agents re-register with them. Each is removed (its tasks killed, its record
   * removed) when its failover timeout expires, counted from its record's {@code disconnected_at}
   * (from {@code now} if unset: it was subscribed when the previous master stopped), but not before
   * {@link MasterConfig#recoveredFrameworkGrace()} after {@code now}; subscribing before then keeps
   * it and its tasks. From then on a framework ID this master does not know is refused at
   * Subscribe, and tasks of such frameworks that agents report get the agent a shutdown_framework:
   * the registry holds every framework until it is removed.
   *
   * <p>The Effects hold an Update for each framework whose record had no {@code disconnected_at},
   * setting it to {@code now}, so that yet another master counts from here and not from scratch.
   *
   * @throws IllegalStateException if called twice, or after a framework or agent became known
   * @throws IllegalArgumentException if a record is not a valid framework (named in the message)
   */
  public Effects recoverFrameworks(List<Framework> frameworks, Instant now) {
    Objects.requireNonNull(frameworks, "frameworks");
    Outbox out = outbox(now);
    subscriptions.recover(frameworks, out);
    return out.build();
  }

  /**
   * A Subscribe call by {@code principal} (the connection's authenticated identity; it replaces
   * whatever the FrameworkInfo says). The first event of the new stream is {@code subscribed}, with
   * the framework's ID and the stream ID; a previous subscription of the framework ends. A new
   * framework comes with a {@link FrameworkRecord.Add}, a changed FrameworkInfo (or the end of a
   * disconnection) with an {@link FrameworkRecord.Update}: the shell sends {@code subscribed} only
   * once it is committed ({@link Effects}).
   */
  public Effects subscribe(SubscribeRequest request, String principal, Instant now) {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(principal, "principal");
    Outbox out = outbox(now);
    subscriptions.subscribe(request, principal, out);
    return out.build();
  }

  /**
   * The stream {@code streamId} of the framework broke or was closed by the scheduler. Its failover
   * timeout starts, recorded with a {@link FrameworkRecord.Update} ({@code disconnected_at}); with
   * a zero timeout it is removed at once.
   */
  public Effects disconnected(String frameworkId, String streamId, Instant now) {
    Outbox out = outbox(now);
    subscriptions.disconnected(frameworkId, streamId, out);
    return out.build();
  }

  public Effects accept(AcceptRequest request, String principal, Instant now) {
    return call(
        request.getFrameworkId(),
        request.getStreamId(),
        principal,
        now,
        (f, out) -> launcher.accept(f, request, out));
  }

  public Effects decline(DeclineRequest request, String principal, Instant now) {
    return call(
        request.getFrameworkId(),
        request.getStreamId(),
        principal,
        now,
        (f, out) -> launcher.decline(f, request, out));
  }

  public Effects kill(KillRequest request, String principal, Instant now) {
    return call(
        request.getFrameworkId(),
        request.getStreamId(),
        principal,
        now,
        (f, out) -> taskCalls.kill(f, request, out));
  }

  public Effects acknowledge(AcknowledgeRequest request, String principal, Instant now) {
    return call(
        request.getFrameworkId(),
        request.getStreamId(),
        principal,
        now,
        (f, out) -> taskCalls.acknowledge(f, request, out));
  }

  public Effects reconcile(ReconcileRequest request, String principal, Instant now) {
    return call(
        request.getFrameworkId(),
        request.getStreamId(),
        principal,
        now,
        (f, out) -> taskCalls.reconcile(f, request, out));
  }

  public Effects suppress(SuppressRequest request, String principal, Instant now) {
    return call(
        request.getFrameworkId(),
        request.getStreamId(),
        principal,
        now,
        (f, out) -> subscriptions.suppress(f, request.getRolesList(), out));
  }

  public Effects revive(ReviveRequest request, String principal, Instant now) {
    return call(
        request.getFrameworkId(),
        request.getStreamId(),
        principal,
        now,
        (f, out) -> subscriptions.revive(f, request.getRolesList(), out));
  }

  public Effects teardown(TeardownRequest request, String principal, Instant now) {
    return call(
        request.getFrameworkId(),
        request.getStreamId(),
        principal,
        now,
        (f, out) -> subscriptions.teardown(f, out));
  }

  private Effects call(
      String frameworkId,
      String streamId,
      String principal,
      Instant now,
      BiConsumer<FrameworkState, Outbox> body) {
    Objects.requireNonNull(principal, "principal");
    Outbox out = outbox(now);
    FrameworkState framework = calls.check(frameworkId, streamId, principal, out);
    if (framework != null) {
      body.accept(framework, out);
    }
    return out.build();
  }

  // ---- agents ----------------------------------------------------------------------------------

  /**
   * An admitted agent registered with nothing to recover ({@code Register}); the core answers
   * {@code registered}. Tasks the master believed on it are gone.
   */
  public Effects agentRegistered(String agentId, String hostname, Resources total, Instant now) {
    Outbox out = outbox(now);
    agentEvents.registered(agentId, hostname, total, out);
    return out.build();
  }

  /**
   * An admitted agent re-registered ({@code Reregister}) with the tasks it holds and the
   * FrameworkInfo of their frameworks; the core answers {@code reregistered}.
   */
  public Effects agentReregistered(
      String agentId,
      String hostname,
      Resources total,
      List<Task> tasks,
      List<FrameworkInfo> frameworks,
      Instant now) {
    Outbox out = outbox(now);
    agentEvents.reregistered(agentId, hostname, total, tasks, frameworks, out);
    return out.build();
  }

  /**
   * The agents the recovered registry admits ({@code agents/{id}} in state ADMITTED): the shell
   * calls it once, when it starts leading, before any agent registers. Each is expected to
   * re-register: an explicit reconciliation of a task the master does not know on such an agent
   * gets no answer (the agent may still report it), and no offers are made until {@link
   * MasterConfig#agentRecoveryFactor} of them are back or {@link MasterConfig#allocationHoldOff}
   * passed. The shell marks those that do not come back within its re-register timeout unreachable
   * ({@link #agentUnreachable}).
   */
  public Effects recoverAgents(List<String> admitted, Instant now) {
    Objects.requireNonNull(admitted, "admitted");
    Outbox out = outbox(now);
    agentEvents.recover(admitted, out.now);
    return out.build();
  }

  /**
   * The registry now holds the agent as UNREACHABLE (the shell stored it: no pong within the ping
   * timeouts, or no re-registration after a failover). Its tasks become TASK_UNREACHABLE (TASK_LOST
   * without PARTITION_AWARE), its resources leave the offers; if it re-registers, it is taken back
   * with the tasks it lists ({@link #agentReregistered}).
   */
  public Effects agentUnreachable(String agentId, Instant now) {
    Outbox out = outbox(now);
    agentEvents.unreachable(agentId, out);
    return out.build();
  }

  /** The agent's session ended; it keeps its tasks while the shell waits for it to come back. */
  public Effects agentDisconnected(String agentId, Instant now) {
    Outbox out = outbox(now);
    agentEvents.disconnected(agentId, out);
    return out.build();
  }

  /** The agent left the cluster for good (the registry says so). */
  public Effects agentRemoved(String agentId, AgentRemoval how, Instant now) {
    Outbox out = outbox(now);
    agentEvents.removed(agentId, Objects.requireNonNull(how, "how"), out);
    return out.build();
  }

  /** A status update on the agent's session. */
  public Effects statusUpdate(String agentId, StatusUpdate update, Instant now) {
    Outbox out = outbox(now);
    agentEvents.statusUpdate(agentId, update, out);
    return out.build();
  }

  // ---- roles and time --------------------------------------------------------------------------

  /** A role's weight (the registry's Weight entries); 1 by default. */
  public void updateWeight(String role, double weight) {
    state.allocator.updateWeight(role, weight);
  }

  /**
   * The clock moved: failover timeouts, offer timeouts, an allocation, heartbeats ({@link Ticker}).
   * The shell calls it on its allocation interval.
   */
  public Effects tick(Instant now) {
    Outbox out = outbox(now);
    ticker.tick(out);
    return out.build();
  }

  // ---- reading ---------------------------------------------------------------------------------

  /** The operator's view (GetState) of what the core holds now. */
  public GetStateResponse state() {
    return StateView.of(state);
  }

  private Outbox outbox(Instant now) {
    Objects.requireNonNull(now, "now");
    if (now.isAfter(lastNow)) {
      lastNow = now;
    }
    return new Outbox(lastNow, state.agents);
  }
}
