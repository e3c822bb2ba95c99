package io.kmesos.master.server;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.kmesos.api.agent.v1.AgentMessage;
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.agent.v1.Ping;
import io.kmesos.api.agent.v1.Pong;
import io.kmesos.api.agent.v1.Refused;
import io.kmesos.api.operator.v1.GetStateResponse;
import io.kmesos.api.registry.v1.Framework;
import io.kmesos.api.resources.ResourceProtos;
import io.kmesos.api.resources.Resources;
import io.kmesos.api.scheduler.v1.Event;
import io.kmesos.api.scheduler.v1.SubscribeRequest;
import io.kmesos.api.v1.MasterInfo;
import io.kmesos.master.allocator.Allocator;
import io.kmesos.master.core.AgentCommand;
import io.kmesos.master.core.AgentRemoval;
import io.kmesos.master.core.Effects;
import io.kmesos.master.core.FrameworkEvent;
import io.kmesos.master.core.FrameworkRecord;
import io.kmesos.master.core.FrameworkRemoved;
import io.kmesos.master.core.IdSource;
import io.kmesos.master.core.MasterConfig;
import io.kmesos.master.core.MasterCore;
import io.kmesos.master.core.Refusal;
import io.kmesos.master.core.SubscriptionEnded;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The master's event loop: one thread owns the {@link MasterCore} and everything it addresses (the
 * frameworks' subscriptions by stream ID, the agents' sessions by agent ID). Every input (a call,
 * an agent's message, a stream that ended, a registry change, a tick) is a task on that thread; the
 * loop feeds it to the core with the time of an injectable clock and carries out the {@link
 * Effects}: refusals become the call's status, events and commands are queued on their streams
 * ({@link Outbound}, which never block the loop), ended subscriptions are completed.
 *
 * <p>Nothing here blocks: the authenticator is asked before a task is submitted, on gRPC's threads.
 */
final class MasterLoop {
  private static final Logger log = LoggerFactory.getLogger(MasterLoop.class);

  /** How soon after an input that may free or add resources the loop ticks (allocates) again. */
  static final Duration SOON = Duration.ofMillis(20);

  private final MasterServerSettings settings;
  private final Clock clock;
  private final MasterMetrics metrics;
  private final ScheduledExecutorService thread;

  // ---- owned by the loop's thread ----
  private MasterCore core;
  private final Map<String, Subscription> subscriptions = new HashMap<>();
  private final Map<String, AgentSession> sessions = new HashMap<>();

  /** Agents that registered with this master run: those the core knows. */
  private final Set<String> registeredAgents = new HashSet<>();

  /**
   * When each agent this master waits to hear from is marked unreachable unless it says something
   * first: an agent with or without a session, {@link MasterServerSettings#agentUnreachableTimeout}
   * after its last message (a pong, a ping, an update, its registration); after a failover, an
   * admitted agent that has not re-registered, {@link MasterServerSettings#agentReregisterTimeout}
   * after this master started leading.
   */
  private final Map<String, Instant> unreachableAt = new HashMap<>();

  /**
   * Agents whose mark as unreachable is on its way to the registry (they are refused meanwhile).
   */
  private final Set<String> markingUnreachable = new HashSet<>();

  /** Agents whose first registration this master recorded (the registry view may lag). */
  private final Set<String> recordedRegistered = new HashSet<>();

  /** Agents this master marked unreachable (the registry view may not say so yet). */
  private final Set<String> unreachableAgents = new HashSet<>();

  /** Where agents are marked unreachable and reachable; set by {@link #lead}. */
  private AgentStore agentStore = AgentStore.UNRECORDED;

  private RegistryView registry = RegistryView.EMPTY;
  private boolean soonTick;
  private long pingSequence;

  private volatile boolean serving;

  /** Where framework records go; set by {@link #lead}. */
  private FrameworkStore store;

  /** A framework record could not be stored: this master is done; inputs are ignored. */
  private boolean lost;

  MasterLoop(MasterServerSettings settings, Clock clock, MasterMetrics metrics) {
    this.settings = settings;
    this.clock = clock;
    this.metrics = metrics;
    this.thread =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "master-loop");
              t.setDaemon(true);
              return t;
            });
  }

  /** Whether the core exists: this is the master and it recovered the registry. */
  boolean serving() {
    return serving;
  }

  /** The core; only for tasks running on the loop. */
  MasterCore core() {
    return core;
  }

  /** Creates the core for this master run and starts serving (idempotent). */
  void lead(MasterInfo info, FrameworkStore store, AgentStore agents) {
    submit(
        () -> {
          if (core != null) {
            return;
          }
          this.store = store;
          this.agentStore = agents;
          core = new MasterCore(config(info), ids(info.getId()));
          List<Framework> known = store.frameworks();
          if (!apply(core.recoverFrameworks(known, now()))) {
            return;
          }
          // The admitted agents that registered with a master before (the registry records an
          // agent's first registration) were most likely with the previous master: each gets the
          // re-register timeout to come back before it is marked unreachable, and offers wait
          // for them (the agent recovery factor). An admitted agent that never registered (an
          // Agent created ahead of its node, or with no agent behind it) holds no task: nothing to
          // wait for, as under a master that was never failed over.
          List<String> admitted = new ArrayList<>(registry.admitted().keySet());
          admitted.retainAll(registry.registered());
          admitted.sort(null);
          apply(core.recoverAgents(admitted, now()));
          Instant deadline = now().plus(settings.agentReregisterTimeout());
          for (String agentId : admitted) {
            unreachableAt.put(agentId, deadline);
          }
          registry.weights().forEach(core::updateWeight);
          long interval = settings.allocationInterval().toMillis();
          thread.scheduleWithFixedDelay(
              () -> run(this::tick), interval, interval, TimeUnit.MILLISECONDS);
          long ping = settings.agentPingInterval().toMillis();
          thread.scheduleWithFixedDelay(() -> run(this::ping), ping, ping, TimeUnit.MILLISECONDS);
          serving = true;
          log.info(
              "master {}: serving frameworks and agents at {} (allocation every {}; {} frameworks"
                  + " and {} admitted agents that registered before known from the registry, agents"
                  + " given {} to re-register)",
              info.getId(),
              info.getAddress(),
              settings.allocationInterval(),
              known.size(),
              admitted.size(),
              settings.agentReregisterTimeout());
        });
  }

  /**
   * Runs, on a standby's idle loop, what {@link #lead} and the first calls will run, on a core that
   * is thrown away: the master core, the allocator and the state's protobufs are then loaded and
   * compiled before this controller takes over (a first run in cold code took 0.3-0.7 s of a
   * handover on a busy machine). {@code frameworks} and {@code admitted}: what the registry held
   * when the standby read it, so that the same paths run. Nothing leaves the loop: the core's
   * effects are dropped, no store, stream or metric is touched. Failures are only logged.
   *
   * @return completes with whether it ran (false: it failed, or this loop already leads)
   */
  CompletableFuture<Boolean> warmUp(List<Framework> frameworks, List<String> admitted) {
    CompletableFuture<Boolean> ran = new CompletableFuture<>();
    submit(
        () -> {
          if (core != null) {
            ran.complete(false);
            return;
          }
          long started = System.nanoTime();
          try {
            MasterInfo info = MasterInfo.newBuilder().setId("warm-up").build();
            MasterCore spare = new MasterCore(config(info), ids(info.getId()));
            Instant now = now();
            spare.recoverFrameworks(frameworks, now);
            spare.recoverAgents(admitted, now);
            spare.tick(now);
            spare.state();
            log.info(
                "master loop: warmed up for a takeover in {} ms ({} frameworks, {} agents)",
                (System.nanoTime() - started) / 1_000_000,
                frameworks.size(),
                admitted.size());
            ran.complete(true);
          } catch (RuntimeException e) {
            log.info("master loop: warm-up failed (no harm done): {}", e.toString());
            ran.complete(false);
          }
        });
    return ran;
  }

  private MasterConfig config(MasterInfo info) {
    return new MasterConfig(
            info,
            settings.heartbeatInterval(),
            settings.agentPingInterval(),
            settings.offerTimeout(),
            Allocator.Config.defaults())
        .withAllocationHoldOff(settings.agentRecoveryFactor(), settings.allocationHoldOff());
  }

  /**
   * Framework and offer IDs as Mesos forms them from the master run's ID; stream IDs unguessable,
   * since a stream ID is what a call must show to act for a subscription.
   */
  private static IdSource ids(String masterId) {
    IdSource sequential = IdSource.sequential(masterId.isEmpty() ? "master" : masterId);
    return new IdSource() {
      @Override
      public String frameworkId() {
        return sequential.frameworkId();
      }

      @Override
      public String streamId() {
        return UUID.randomUUID().toString();
      }

      @Override
      public String offerId() {
        return sequential.offerId();
      }
    };
  }

  // ---- inputs ----------------------------------------------------------------------------------

  /** A scheduler's unary call: the core's answer is the call's status. */
  <R> void call(StreamObserver<R> answer, R ok, Function<Instant, Effects> input) {
    submit(
        () -> {
          Effects effects = input.apply(now());
          if (!persist(effects)) {
            answer.onError(LOST.asRuntimeException());
            return;
          }
          if (effects.refusal().isPresent()) {
            answer.onError(status(effects.refusal().get()).asRuntimeException());
          } else {
            answer.onNext(ok);
            answer.onCompleted();
          }
          deliver(effects);
          tickSoon();
        });
  }

  void subscribe(SubscribeRequest request, String principal, Subscription sub) {
    submit(
        () -> {
          if (sub.stream.closed()) {
            return; // the scheduler went away before the loop got to it
          }
          Effects effects = core.subscribe(request, principal, now());
          if (!persist(effects)) {
            sub.stream.close(LOST);
            return;
          }
          if (effects.refusal().isPresent()) {
            sub.stream.close(status(effects.refusal().get()));
            return;
          }
          Event.Subscribed subscribed = null;
          for (FrameworkEvent e : effects.events()) {
            if (e.event().hasSubscribed()) {
              subscribed = e.event().getSubscribed();
            }
          }
          sub.frameworkId = subscribed.getFrameworkId();
          sub.streamId = subscribed.getStreamId();
          subscriptions.put(sub.streamId, sub);
          boolean failover = !request.getFrameworkInfo().getId().isEmpty();
          log.info(
              "framework {} ({}, principal {}) {}",
              sub.frameworkId,
              request.getFrameworkInfo().getName(),
              principal,
              failover ? "subscribed again (failover)" : "subscribed");
          deliver(effects);
          tickSoon();
        });
  }

  /** The subscription's stream ended on the scheduler's side (cancelled, connection broken). */
  void subscriptionGone(Subscription sub) {
    submit(() -> disconnect(sub, "its stream ended"));
  }

  private void disconnect(Subscription sub, String why) {
    if (sub.streamId == null || !subscriptions.remove(sub.streamId, sub)) {
      return;
    }
    log.info("framework {} disconnected: {}", sub.frameworkId, why);
    apply(core.disconnected(sub.frameworkId, sub.streamId, now()));
    tickSoon();
  }

  /** An agent's first message, its identity already checked against its node. */
  void agentConnect(AgentSession session, AgentMessage first) {
    submit(
        () -> {
          if (session.stream.closed()) {
            return;
          }
          boolean again = first.hasReregister();
          String agentId =
              again ? first.getReregister().getAgentId() : first.getRegister().getAgentId();
          if (markingUnreachable.contains(agentId)) {
            // Its mark is on its way to the registry: taken back only after it is committed, or
            // the registry would say unreachable of an agent this master serves.
            session.stream.close(
                Status.UNAVAILABLE.withDescription(
                    "agent " + agentId + " is being marked unreachable; connect again"));
            return;
          }
          boolean unreachable =
              !registry.gone().contains(agentId)
                  && (unreachableAgents.contains(agentId)
                      || (!registry.admitted().containsKey(agentId)
                          && registry.unreachable().contains(agentId)));
          if (unreachable) {
            // Back from a partition: admitted again in the registry (as Mesos's
            // MarkSlaveReachable), then taken back with the tasks it lists.
            log.info("agent {} is back after being unreachable; admitting it again", agentId);
            agentStore
                .markReachable(agentId)
                .whenComplete(
                    (ok, failed) ->
                        submit(
                            () -> {
                              if (session.stream.closed()) {
                                return;
                              }
                              if (failed != null) {
                                session.stream.close(
                                    Status.UNAVAILABLE.withDescription(
                                        "agent "
                                            + agentId
                                            + " could not be admitted again: "
                                            + failed.getMessage()));
                                return;
                              }
                              unreachableAgents.remove(agentId);
                              admit(session, first, true);
                            }));
            return;
          }
          admit(session, first, false);
        });
  }

  /**
   * Takes the agent's session: checks it against the registry (unless it was just admitted again
   * after being unreachable, which the registry view may not show yet), then hands its
   * (re-)registration to the core.
   */
  private void admit(AgentSession session, AgentMessage first, boolean readmitted) {
    boolean again = first.hasReregister();
    String agentId = again ? first.getReregister().getAgentId() : first.getRegister().getAgentId();
    String hostname =
        again ? first.getReregister().getHostname() : first.getRegister().getHostname();
    String admittedHost =
        readmitted
            ? registry.admitted().getOrDefault(agentId, hostname)
            : registry.admitted().get(agentId);
    if (admittedHost == null) {
      boolean gone = registry.gone().contains(agentId);
      session.refuse(
          gone ? Refused.Reason.REASON_AGENT_GONE : Refused.Reason.REASON_NOT_ADMITTED,
          gone
              ? "agent " + agentId + " was declared gone; it never comes back under this ID"
              : "agent "
                  + agentId
                  + " is not admitted in the registry (yet); retry later, or use the UID"
                  + " of the node's current Agent resource");
      return;
    }
    if (!admittedHost.equals(hostname)) {
      session.refuse(
          Refused.Reason.REASON_HOSTNAME_MISMATCH,
          "agent "
              + agentId
              + " registers as hostname '"
              + hostname
              + "' but was admitted as '"
              + admittedHost
              + "'");
      return;
    }
    if (!registry.registered().contains(agentId) && !recordedRegistered.contains(agentId)) {
      // Its first registration (with any master): recorded, and committed, before the agent can
      // get a task, so that a later master expects it back after a failover.
      agentStore
          .markRegistered(agentId, now())
          .whenComplete(
              (ok, failed) ->
                  submit(
                      () -> {
                        if (session.stream.closed()) {
                          return;
                        }
                        if (failed != null) {
                          session.stream.close(
                              Status.UNAVAILABLE.withDescription(
                                  "agent "
                                      + agentId
                                      + " could not be recorded as registered in the registry: "
                                      + failed.getMessage()
                                      + "; connect again"));
                          return;
                        }
                        recordedRegistered.add(agentId);
                        admit(session, first, readmitted);
                      }));
      return;
    }
    Resources total;
    try {
      total =
          ResourceProtos.read(
              again
                  ? first.getReregister().getResourcesList()
                  : first.getRegister().getResourcesList());
    } catch (IllegalArgumentException e) {
      session.refuse(
          Refused.Reason.REASON_INVALID,
          "agent " + agentId + " reports invalid resources: " + e.getMessage());
      return;
    }
    session.agentId = agentId;
    session.lastPong = now();
    heard(agentId);
    AgentSession old = sessions.put(agentId, session);
    if (old != null) {
      old.stream.close(
          Status.ABORTED.withDescription(
              "a new session of agent " + agentId + " replaced this one"));
    }
    registeredAgents.add(agentId);
    Effects effects =
        again
            ? core.agentReregistered(
                agentId,
                hostname,
                total,
                first.getReregister().getTasksList(),
                first.getReregister().getFrameworksList(),
                now())
            : core.agentRegistered(agentId, hostname, total, now());
    log.info(
        "agent {} ({}) {} with {}{}",
        agentId,
        hostname,
        again ? "re-registered" : "registered",
        total,
        again ? ", " + first.getReregister().getTasksCount() + " tasks" : "");
    apply(effects);
    tickSoon();
  }

  /** The agent said something: its unreachable timeout starts again. */
  private void heard(String agentId) {
    unreachableAt.put(agentId, now().plus(settings.agentUnreachableTimeout()));
  }

  /** A later message on a registered agent's session. */
  void agentMessage(AgentSession session, AgentMessage message) {
    submit(
        () -> {
          if (session.agentId == null || sessions.get(session.agentId) != session) {
            return; // ended or replaced meanwhile
          }
          heard(session.agentId);
          switch (message.getKindCase()) {
            case STATUS_UPDATE -> {
              apply(core.statusUpdate(session.agentId, message.getStatusUpdate(), now()));
              tickSoon();
            }
            case PING ->
                session.stream.send(
                    MasterMessage.newBuilder()
                        .setPong(Pong.newBuilder().setSequence(message.getPing().getSequence()))
                        .build());
            case PONG -> session.lastPong = now();
            default -> {
              sessions.remove(session.agentId);
              session.stream.close(
                  Status.INVALID_ARGUMENT.withDescription(
                      "agent "
                          + session.agentId
                          + " sent "
                          + message.getKindCase()
                          + " on a registered session; only status_update, ping and pong may"
                          + " follow registration"));
              agentDisconnected(session.agentId, "it sent an invalid message");
            }
          }
        });
  }

  /** The agent's session ended on its side. */
  void agentGone(AgentSession session) {
    submit(
        () -> {
          if (session.agentId != null && sessions.remove(session.agentId, session)) {
            agentDisconnected(session.agentId, "its session ended");
          }
        });
  }

  private void agentDisconnected(String agentId, String why) {
    log.info("agent {} disconnected: {}", agentId, why);
    apply(core.agentDisconnected(agentId, now()));
    tickSoon();
  }

  /** The registry changed (or was read for the first time). */
  void registryChanged(RegistryView view) {
    submit(
        () -> {
          RegistryView before = registry;
          registry = view;
          if (core == null) {
            return;
          }
          for (String role : before.weights().keySet()) {
            if (!view.weights().containsKey(role)) {
              core.updateWeight(role, 1.0);
            }
          }
          view.weights().forEach(core::updateWeight);
          // The agents this master knows, and those it still expects back after a failover: one
          // an operator declares gone (or whose Agent is deleted) meanwhile is removed as well.
          Set<String> followed = new HashSet<>(registeredAgents);
          followed.addAll(unreachableAt.keySet());
          for (String agentId : followed.stream().sorted().toList()) {
            if (view.admitted().containsKey(agentId) || view.unreachable().contains(agentId)) {
              continue;
            }
            boolean gone = view.gone().contains(agentId);
            registeredAgents.remove(agentId);
            recordedRegistered.remove(agentId);
            unreachableAt.remove(agentId);
            unreachableAgents.remove(agentId);
            AgentSession session = sessions.remove(agentId);
            if (session != null) {
              session.refuse(
                  gone ? Refused.Reason.REASON_AGENT_GONE : Refused.Reason.REASON_NOT_ADMITTED,
                  gone
                      ? "agent " + agentId + " was declared gone by an operator"
                      : "agent " + agentId + " was removed from the registry");
            }
            log.info(
                "agent {} removed ({})",
                agentId,
                gone ? "declared gone by an operator" : "its Agent resource is gone");
            apply(
                core.agentRemoved(
                    agentId, gone ? AgentRemoval.GONE_BY_OPERATOR : AgentRemoval.REMOVED, now()));
          }
          tickSoon();
        });
  }

  /** The operator's view, read on the loop. */
  CompletableFuture<GetStateResponse> state() {
    CompletableFuture<GetStateResponse> result = new CompletableFuture<>();
    submit(() -> result.complete(core.state()));
    return result;
  }

  // ---- time ------------------------------------------------------------------------------------

  private void tickSoon() {
    if (soonTick) {
      return;
    }
    soonTick = true;
    thread.schedule(
        () ->
            run(
                () -> {
                  soonTick = false;
                  tick();
                }),
        SOON.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  private void tick() {
    long started = System.nanoTime();
    apply(core.tick(now()));
    metrics.allocated(System.nanoTime() - started);
    // The gauges read the whole state (every task): at most once a second, not on every tick that
    // follows an event, or a burst of launches would pay for it per update.
    long nowNanos = System.nanoTime();
    if (nowNanos - observedAtNanos >= OBSERVE_EVERY_NANOS) {
      observedAtNanos = nowNanos;
      metrics.observe(core.state(), sessions.size());
    }
  }

  private static final long OBSERVE_EVERY_NANOS = TimeUnit.SECONDS.toNanos(1);
  private long observedAtNanos = System.nanoTime() - OBSERVE_EVERY_NANOS;

  /**
   * Marks unreachable the agents that said nothing for the unreachable timeout (ending their
   * sessions, if any), then pings every session. A session that ends (the agent restarts, or its
   * connection breaks) leaves the agent disconnected with its tasks; only silence for the whole
   * timeout, with or without a session, makes it unreachable (Mesos: a socket that closes makes an
   * agent disconnected; pings that go unanswered {@code --max_agent_ping_timeouts} times make it
   * unreachable).
   */
  private void ping() {
    Instant now = now();
    List<String> due = new ArrayList<>();
    for (Map.Entry<String, Instant> e : new ArrayList<>(unreachableAt.entrySet())) {
      String agentId = e.getKey();
      if (!registeredAgents.contains(agentId) && !registry.admitted().containsKey(agentId)) {
        unreachableAt.remove(agentId); // expected after a failover, and left the registry since
      } else if (!now.isBefore(e.getValue()) && !markingUnreachable.contains(agentId)) {
        due.add(agentId);
      }
    }
    due.sort(null);
    for (String agentId : due) {
      String why =
          registeredAgents.contains(agentId)
              ? "it answered no ping for "
                  + settings.agentUnreachableTimeout().toSeconds()
                  + " s ("
                  + settings.maxAgentPingTimeouts()
                  + " ping timeouts of "
                  + settings.agentPingTimeout()
                  + ")"
              : "it did not re-register within "
                  + settings.agentReregisterTimeout()
                  + " of this master's election";
      AgentSession session = sessions.remove(agentId);
      if (session != null) {
        session.stream.close(
            Status.UNAVAILABLE.withDescription(
                "agent "
                    + agentId
                    + " answered no ping for "
                    + settings.agentUnreachableTimeout().toSeconds()
                    + " s and is marked unreachable; connect again"));
        agentDisconnected(agentId, why);
      }
      markUnreachable(agentId, why);
    }
    long sequence = ++pingSequence;
    for (AgentSession session : new ArrayList<>(sessions.values())) {
      if (!session.stream.send(
          MasterMessage.newBuilder().setPing(Ping.newBuilder().setSequence(sequence)).build())) {
        if (sessions.remove(session.agentId, session)) {
          agentDisconnected(session.agentId, "its stream ended");
        }
      }
    }
  }

  /**
   * Asks the registry to mark the agent unreachable (the store waits for the removal rate limit);
   * once committed, the core hears of it. If it fails, the next ping round tries again.
   */
  private void markUnreachable(String agentId, String why) {
    markingUnreachable.add(agentId);
    log.info("agent {}: {}; marking it unreachable", agentId, why);
    Instant at = now();
    CompletableFuture<Void> stored;
    try {
      stored = agentStore.markUnreachable(agentId, at);
    } catch (RuntimeException e) {
      stored = CompletableFuture.failedFuture(e);
    }
    stored.whenComplete((ok, failed) -> submit(() -> unreachableStored(agentId, failed)));
  }

  private void unreachableStored(String agentId, Throwable failed) {
    markingUnreachable.remove(agentId);
    if (!unreachableAt.containsKey(agentId)) {
      return; // removed from the registry meanwhile
    }
    if (failed != null) {
      log.warn(
          "agent {}: could not be marked unreachable in the registry ({}); trying again",
          agentId,
          failed.getMessage());
      return;
    }
    unreachableAt.remove(agentId);
    unreachableAgents.add(agentId);
    log.info("agent {} is marked unreachable in the registry", agentId);
    apply(core.agentUnreachable(agentId, now()));
    tickSoon();
  }

  private Instant now() {
    return clock.instant();
  }

  // ---- effects ---------------------------------------------------------------------------------

  /**
   * Carries out one input's effects: stores its framework records, then delivers the rest. False
   * (and nothing delivered) if a record could not be stored.
   */
  private boolean apply(Effects effects) {
    if (!persist(effects)) {
      return false;
    }
    deliver(effects);
    return true;
  }

  /**
   * Stores the effects' framework records with the registrar, in order, waiting for each commit:
   * the loop does nothing else meanwhile, so no later effect overtakes them (the core's contract: a
   * framework's {@code subscribed} never goes out before its record is committed). Records are rare
   * (a framework's first subscription, its disconnection and return, its removal), so the wait is
   * paid per framework event, not per call. A failed store ends this master: it stops serving, ends
   * every stream, and asks the controller to give up mastership.
   */
  private boolean persist(Effects effects) {
    if (lost) {
      return false;
    }
    for (FrameworkRecord record : effects.frameworkRecords()) {
      try {
        store.store(record.operation());
      } catch (Exception e) {
        if (e instanceof InterruptedException) {
          Thread.currentThread().interrupt();
        }
        String why =
            "could not store framework "
                + record.frameworkId()
                + " in the registry ("
                + record.operation().getKindCase()
                + "): "
                + e;
        log.error("master: {}; giving up mastership", why);
        lost = true;
        serving = false;
        subscriptions.values().forEach(sub -> sub.stream.close(LOST));
        subscriptions.clear();
        sessions.values().forEach(session -> session.stream.close(LOST));
        sessions.clear();
        store.failed(why);
        return false;
      }
    }
    return true;
  }

  private void deliver(Effects effects) {
    for (FrameworkEvent e : effects.events()) {
      Subscription sub = subscriptions.get(e.streamId());
      if (sub != null && !sub.stream.send(e.event())) {
        // Too slow (or gone): the stream ended; the framework is disconnected, as if it broke.
        thread.execute(() -> run(() -> disconnect(sub, "it did not read its events")));
      }
    }
    for (AgentCommand c : effects.commands()) {
      AgentSession session = sessions.get(c.agentId());
      if (session != null && !session.stream.send(c.message())) {
        String agentId = c.agentId();
        thread.execute(
            () ->
                run(
                    () -> {
                      if (sessions.remove(agentId, session)) {
                        agentDisconnected(agentId, "it did not read its session");
                      }
                    }));
      }
    }
    for (SubscriptionEnded ended : effects.endedSubscriptions()) {
      Subscription sub = subscriptions.remove(ended.streamId());
      if (sub != null) {
        sub.stream.close(Status.OK);
      }
      log.info(
          "framework {}: subscription ended ({})",
          ended.frameworkId(),
          ended.why() == SubscriptionEnded.Why.SUPERSEDED
              ? "failed over to a new subscription"
              : "torn down");
    }
    for (FrameworkRemoved removed : effects.removedFrameworks()) {
      log.info(
          "framework {} removed ({})",
          removed.frameworkId(),
          removed.why() == FrameworkRemoved.Why.TORN_DOWN
              ? "torn down"
              : "its failover timeout expired");
    }
  }

  /** What callers hear once this master could not store a framework record. */
  private static final Status LOST =
      Status.UNAVAILABLE.withDescription(
          "this master could not write the registry and gives up mastership; retry against the"
              + " next leader");

  static Status status(Refusal refusal) {
    return Status.fromCode(Status.Code.valueOf(refusal.code().name()))
        .withDescription(refusal.message());
  }

  // ---- the thread ------------------------------------------------------------------------------

  private void submit(Runnable task) {
    try {
      thread.execute(() -> run(task));
    } catch (RuntimeException e) {
      // Stopped: the process is going down; calls still arriving get no answer from the core.
      log.debug("master loop stopped; dropped an input: {}", e.toString());
    }
  }

  /** One input; a failure is logged and the loop goes on (it must never die of one input). */
  private void run(Runnable task) {
    if (lost) {
      return; // this master gave up; the controller is on its way out
    }
    try {
      task.run();
    } catch (RuntimeException | Error e) {
      log.error("master loop: an input failed", e);
    }
  }

  void close() {
    serving = false;
    thread.shutdownNow();
  }

  /** A framework's subscription: its stream, and (once the core accepted it) its IDs. */
  static final class Subscription {
    final Outbound<Event> stream;
    // Set on the loop when the core accepted the subscription.
    String frameworkId;
    String streamId;

    Subscription(Outbound<Event> stream) {
      this.stream = stream;
    }
  }

  /** An agent's session: its stream, and (once registered) its ID and last pong. */
  static final class AgentSession {
    final Outbound<MasterMessage> stream;
    // Set on the loop at registration.
    String agentId;
    Instant lastPong;

    AgentSession(Outbound<MasterMessage> stream) {
      this.stream = stream;
    }

    /** Sends {@code refused} and ends the session (OK: the refusal says why). */
    void refuse(Refused.Reason reason, String message) {
      stream.send(
          MasterMessage.newBuilder()
              .setRefused(Refused.newBuilder().setReason(reason).setMessage(message))
              .build());
      stream.close(Status.OK);
    }
  }
}
