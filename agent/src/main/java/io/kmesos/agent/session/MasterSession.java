package io.kmesos.agent.session;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.kmesos.agent.updates.StatusUpdates;
import io.kmesos.api.KmesosVersion;
import io.kmesos.api.agent.v1.AgentMessage;
import io.kmesos.api.agent.v1.AgentSessionGrpc;
import io.kmesos.api.agent.v1.KillTask;
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.agent.v1.Ping;
import io.kmesos.api.agent.v1.Pong;
import io.kmesos.api.agent.v1.Refused;
import io.kmesos.api.agent.v1.Register;
import io.kmesos.api.agent.v1.Reregister;
import io.kmesos.api.agent.v1.RunTask;
import io.kmesos.api.agent.v1.ShutdownFramework;
import io.kmesos.api.cli.Failures;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Resource;
import io.kmesos.api.v1.Task;
import io.kmesos.api.v1.TaskInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's side of {@code kmesos.agent.v1.AgentSession}: one bidirectional Connect stream with
 * the leading master at a time, kept up for as long as the agent runs.
 *
 * <p>It waits until the agent is admitted (its Agent resource's UID is its ID), then connects to
 * the masters of {@link SessionSettings#masters} in turn, following a standby's {@code
 * kmesos-leader} hint, with exponential back-off and jitter between rounds. The first message is
 * Register the first time this process registers, Reregister (with what it runs) every time after.
 * Once (re)registered it hands RunTask, KillTask and ShutdownFramework to the {@link Agent}, gives
 * acknowledgements and its session to the {@link StatusUpdates}, answers Pings, and pings the
 * master itself: a session without any message from the master for {@link
 * SessionSettings#masterTimeout} is taken as dead and replaced.
 *
 * <p>Calls carry mutual TLS with the agent's certificate (the master must present
 * spiffe://kmesos/controller) and {@code authorization: Bearer} with the token file, read again on
 * every connect (projected service account tokens rotate).
 */
public final class MasterSession implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(MasterSession.class);
  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  /** Set by a standby master on UNAVAILABLE: where the leader is (host:port). */
  public static final Metadata.Key<String> LEADER =
      Metadata.Key.of("kmesos-leader", Metadata.ASCII_STRING_MARSHALLER);

  /** What the session needs of the agent. Its command methods run on gRPC threads, in order. */
  public interface Agent {
    /** The agent's registry ID (its Agent resource's UID) once admitted; empty until then. */
    Optional<String> agentId();

    /** What the agent offers, in total. */
    List<Resource> resources();

    /** The tasks that have not ended (for Reregister). */
    List<Task> tasks();

    /** The FrameworkInfo of every framework with a task on the agent. */
    Map<String, FrameworkInfo> frameworks();

    void runTask(RunTask run);

    void killTask(KillTask kill);

    void shutdownFramework(ShutdownFramework shutdown);

    /**
     * The master refused the agent for good (REASON_AGENT_GONE): it kills all its tasks; the
     * session stops connecting.
     */
    void gone(String message);
  }

  /** How one attempt ended. */
  private sealed interface Outcome {}

  /** Ended after it was (re)registered: connect again at once. */
  private record WasUp(String why) implements Outcome {}

  /** A standby: try the leader it names next. */
  private record Redirect(String leader, String why) implements Outcome {}

  /** The agent is gone from the registry: stop. */
  private record Gone(String why) implements Outcome {}

  /** Anything else: the next address, and back off after a round. */
  private record Failed(String why) implements Outcome {}

  private final SessionSettings settings;
  private final MutualTls tls;
  private final Agent agent;
  private final StatusUpdates updates;
  private final ScheduledExecutorService timers =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "master-session-timer");
            t.setDaemon(true);
            return t;
          });
  private final Thread loop;
  private volatile boolean closed;
  private volatile boolean registeredOnce;
  private volatile boolean up;
  private volatile String currentMaster;
  private volatile ClientCallStreamObserver<AgentMessage> current;

  public MasterSession(
      SessionSettings settings, MutualTls tls, Agent agent, StatusUpdates updates) {
    this(settings, tls, agent, updates, false);
  }

  /**
   * @param registeredBefore the agent recovered from checkpoints of an earlier run under the same
   *     ID: its first message is Reregister, with the tasks it recovered, so that the master keeps
   *     them (a Register would end them all)
   */
  public MasterSession(
      SessionSettings settings,
      MutualTls tls,
      Agent agent,
      StatusUpdates updates,
      boolean registeredBefore) {
    this.registeredOnce = registeredBefore;
    this.settings = settings;
    this.tls = tls;
    this.agent = agent;
    this.updates = updates;
    this.loop = new Thread(this::run, "master-session");
    loop.setDaemon(true);
  }

  public MasterSession start() {
    loop.start();
    return this;
  }

  /** Whether a session is (re)registered now. */
  public boolean isUp() {
    return up;
  }

  /** The master of the current (or last) session, host:port. */
  public String master() {
    return currentMaster;
  }

  @Override
  public void close() {
    closed = true;
    loop.interrupt();
    var call = current;
    if (call != null) {
      call.cancel("the agent is stopping", null);
    }
    timers.shutdownNow();
  }

  private void run() {
    Duration backoff = settings.minBackoff();
    String hint = null;
    try {
      String agentId = awaitAdmission();
      while (!closed) {
        List<String> round = new ArrayList<>();
        if (hint != null) {
          round.add(hint);
        }
        settings.masters().stream().filter(m -> !round.contains(m)).forEach(round::add);
        hint = null;
        boolean wasUp = false;
        for (String master : round) {
          // The Agent may have been deleted and created again (a new UID) since the last attempt.
          agentId = agent.agentId().orElse(agentId);
          Outcome outcome = attempt(master, agentId);
          LOG.info("session with master {} ended: {}", master, outcome);
          if (outcome instanceof Gone gone) {
            agent.gone(gone.why());
            return;
          }
          if (outcome instanceof WasUp) {
            wasUp = true;
            break;
          }
          if (outcome instanceof Redirect r) {
            hint = r.leader();
            break;
          }
          if (closed) {
            return;
          }
        }
        if (wasUp) {
          backoff = settings.minBackoff();
          continue; // the master was there a moment ago: reconnect at once
        }
        if (hint != null) {
          continue; // follow the hint at once (a round of its own)
        }
        long jittered =
            ThreadLocalRandom.current().nextLong(backoff.toMillis() / 2, backoff.toMillis() + 1);
        Thread.sleep(Math.max(1, jittered));
        backoff = min(backoff.multipliedBy(2), settings.maxBackoff());
      }
    } catch (InterruptedException e) {
      // closed
    }
  }

  private String awaitAdmission() throws InterruptedException {
    Optional<String> id = agent.agentId();
    boolean logged = false;
    while (id.isEmpty() && !closed) {
      if (!logged) {
        LOG.info("waiting until the registry admits this agent before connecting to the master");
        logged = true;
      }
      Thread.sleep(200);
      id = agent.agentId();
    }
    return id.orElse("");
  }

  private Outcome attempt(String master, String agentId) throws InterruptedException {
    String token;
    try {
      token = Files.readString(settings.tokenFile()).strip();
    } catch (IOException e) {
      return new Failed(
          "cannot read the token file " + settings.tokenFile() + ": " + Failures.oneLine(e));
    }
    ManagedChannel channel =
        Grpc.newChannelBuilder(master, tls.channelCredentials(Identity.CONTROLLER)).build();
    CompletableFuture<Outcome> ended = new CompletableFuture<>();
    AtomicLong lastHeard = new AtomicLong(System.nanoTime());
    AtomicLong pings = new AtomicLong();
    List<ScheduledFuture<?>> tickers = new ArrayList<>();
    currentMaster = master;
    try {
      var stub = AgentSessionGrpc.newStub(channel).withInterceptors(bearer(token));
      Object lock = new Object();
      boolean[] registered = {false};
      ClientResponseObserver<AgentMessage, MasterMessage> observer =
          new ClientResponseObserver<>() {
            ClientCallStreamObserver<AgentMessage> out;

            @Override
            public void beforeStart(ClientCallStreamObserver<AgentMessage> requests) {
              out = requests;
              current = requests;
            }

            private void send(AgentMessage m) {
              synchronized (lock) {
                if (!ended.isDone()) {
                  out.onNext(m);
                }
              }
            }

            @Override
            public void onNext(MasterMessage m) {
              lastHeard.set(System.nanoTime());
              switch (m.getKindCase()) {
                case REGISTERED, REREGISTERED -> {
                  String id =
                      m.hasRegistered()
                          ? m.getRegistered().getAgentId()
                          : m.getReregistered().getAgentId();
                  LOG.info(
                      "{} with master {} as agent {}",
                      m.hasRegistered() ? "registered" : "re-registered",
                      master,
                      id);
                  registered[0] = true;
                  registeredOnce = true;
                  up = true;
                  updates.connected(
                      u -> send(AgentMessage.newBuilder().setStatusUpdate(u).build()));
                }
                case RUN_TASK -> agent.runTask(m.getRunTask());
                case KILL_TASK -> agent.killTask(m.getKillTask());
                case SHUTDOWN_FRAMEWORK -> agent.shutdownFramework(m.getShutdownFramework());
                case ACKNOWLEDGEMENT ->
                    updates.acknowledge(
                        m.getAcknowledgement().getFrameworkId(),
                        m.getAcknowledgement().getTaskId(),
                        m.getAcknowledgement().getUuid());
                case PING ->
                    send(
                        AgentMessage.newBuilder()
                            .setPong(Pong.newBuilder().setSequence(m.getPing().getSequence()))
                            .build());
                case PONG -> {}
                case REFUSED -> {
                  Refused r = m.getRefused();
                  String why = "refused: " + r.getReason() + " " + r.getMessage();
                  LOG.warn("master {} {}", master, why);
                  ended.complete(
                      r.getReason() == Refused.Reason.REASON_AGENT_GONE
                          ? new Gone(why)
                          : registered[0] ? new WasUp(why) : new Failed(why));
                  out.cancel("refused", null);
                }
                case KIND_NOT_SET -> LOG.debug("ignoring an empty message from master {}", master);
              }
            }

            @Override
            public void onError(Throwable t) {
              Status status = Status.fromThrowable(t);
              Metadata trailers = Status.trailersFromThrowable(t);
              String leader = trailers == null ? null : trailers.get(LEADER);
              String why = status.getCode() + ": " + status.getDescription();
              if (registered[0]) {
                ended.complete(new WasUp(why));
              } else if (status.getCode() == Status.Code.UNAVAILABLE
                  && leader != null
                  && !leader.isBlank()
                  && !leader.equals(master)) {
                ended.complete(new Redirect(leader, why));
              } else {
                ended.complete(new Failed(why));
              }
            }

            @Override
            public void onCompleted() {
              ended.complete(
                  registered[0]
                      ? new WasUp("the master ended the session")
                      : new Failed("the master ended the session"));
            }
          };
      stub.connect(observer);
      AgentMessage first = registeredOnce ? reregister(agentId) : register(agentId);
      synchronized (lock) {
        current.onNext(first);
      }
      tickers.add(
          timers.scheduleAtFixedRate(
              () -> {
                if (System.nanoTime() - lastHeard.get() > settings.masterTimeout().toNanos()) {
                  ended.complete(
                      new Failed("no message from the master for " + settings.masterTimeout()));
                  return;
                }
                synchronized (lock) {
                  if (!ended.isDone()) {
                    current.onNext(
                        AgentMessage.newBuilder()
                            .setPing(Ping.newBuilder().setSequence(pings.incrementAndGet()))
                            .build());
                  }
                }
              },
              settings.pingInterval().toNanos(),
              settings.pingInterval().toNanos(),
              TimeUnit.NANOSECONDS));
      Outcome outcome = ended.get();
      if (outcome instanceof Failed f && registered[0]) {
        outcome = new WasUp(f.why());
      }
      return outcome;
    } catch (ExecutionException e) {
      return new Failed(Failures.oneLine(e.getCause()));
    } catch (RuntimeException e) {
      return new Failed(Failures.oneLine(e));
    } finally {
      up = false;
      updates.disconnected();
      tickers.forEach(t -> t.cancel(false));
      var call = current;
      if (call != null) {
        try {
          call.cancel("session ended", null);
        } catch (RuntimeException ignored) {
          // already over
        }
      }
      current = null;
      channel.shutdownNow();
    }
  }

  private AgentMessage register(String agentId) {
    return AgentMessage.newBuilder()
        .setRegister(
            Register.newBuilder()
                .setAgentId(agentId)
                .setHostname(settings.hostname())
                .addAllResources(agent.resources())
                .setVersion(KmesosVersion.version())
                .setBootId(settings.bootId()))
        .build();
  }

  /** Every task the agent holds: those that run, and those whose updates are unacknowledged. */
  private AgentMessage reregister(String agentId) {
    Map<String, Task> tasks = new LinkedHashMap<>();
    Map<String, FrameworkInfo> frameworks = new LinkedHashMap<>(agent.frameworks());
    for (Task t : agent.tasks()) {
      tasks.put(t.getFrameworkId() + "/" + t.getInfo().getTaskId(), t);
    }
    for (StatusUpdates.Pending p : updates.pending()) {
      String key = p.framework().getId() + "/" + p.head().getTaskId();
      Task known = tasks.get(key);
      Task.Builder t =
          known != null
              ? known.toBuilder()
              : Task.newBuilder()
                  .setInfo(
                      TaskInfo.newBuilder().setTaskId(p.head().getTaskId()).setAgentId(agentId))
                  .setFrameworkId(p.framework().getId())
                  .setState(p.latestState());
      tasks.put(key, t.setLatestStatus(p.head()).build());
      frameworks.putIfAbsent(p.framework().getId(), p.framework());
    }
    return AgentMessage.newBuilder()
        .setReregister(
            Reregister.newBuilder()
                .setAgentId(agentId)
                .setHostname(settings.hostname())
                .addAllResources(agent.resources())
                .setVersion(KmesosVersion.version())
                .setBootId(settings.bootId())
                .addAllTasks(tasks.values())
                .addAllFrameworks(frameworks.values()))
        .build();
  }

  private static ClientInterceptor bearer(String token) {
    return new ClientInterceptor() {
      @Override
      public <Q, A> ClientCall<Q, A> interceptCall(
          MethodDescriptor<Q, A> method, CallOptions options, Channel next) {
        return new ForwardingClientCall.SimpleForwardingClientCall<>(
            next.newCall(method, options)) {
          @Override
          public void start(Listener<A> listener, Metadata headers) {
            headers.put(AUTHORIZATION, "Bearer " + token);
            super.start(listener, headers);
          }
        };
      }
    };
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }
}
