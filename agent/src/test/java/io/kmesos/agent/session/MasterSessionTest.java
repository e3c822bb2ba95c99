package io.kmesos.agent.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.kmesos.agent.updates.RetryTimer;
import io.kmesos.agent.updates.StatusUpdateQueues;
import io.kmesos.api.agent.v1.Acknowledgement;
import io.kmesos.api.agent.v1.AgentMessage;
import io.kmesos.api.agent.v1.AgentSessionGrpc;
import io.kmesos.api.agent.v1.KillTask;
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.agent.v1.Ping;
import io.kmesos.api.agent.v1.Pong;
import io.kmesos.api.agent.v1.Refused;
import io.kmesos.api.agent.v1.Registered;
import io.kmesos.api.agent.v1.Reregistered;
import io.kmesos.api.agent.v1.RunTask;
import io.kmesos.api.agent.v1.ShutdownFramework;
import io.kmesos.api.tls.CertificateDirectory;
import io.kmesos.api.tls.ClusterCertificates;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Resource;
import io.kmesos.api.v1.Task;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The session against a scripted AgentSession server on 127.0.0.1 with the project's mutual TLS:
 * registration, commands, acknowledgements, liveness, standbys and refusals.
 */
class MasterSessionTest {
  static final Duration PATIENCE = Duration.ofSeconds(60);
  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  @TempDir static Path certs;
  static MutualTls agentTls;
  static MutualTls masterTls;

  @TempDir Path dir;
  final List<Server> servers = new ArrayList<>();
  final ScheduledExecutorService timers = Executors.newScheduledThreadPool(1);
  MasterSession session;

  @BeforeAll
  static void issueCertificates() {
    CertificateDirectory store = new CertificateDirectory(certs);
    ClusterCertificates.ensure(
        store,
        new ClusterCertificates.Settings(
            List.of(Identity.CONTROLLER, Identity.AGENT),
            Map.of(Identity.CONTROLLER, List.of("127.0.0.1")),
            Duration.ofDays(20),
            Duration.ofDays(10),
            false),
        Instant.now());
    agentTls = MutualTls.load(store.settings(Identity.AGENT));
    masterTls = MutualTls.load(store.settings(Identity.CONTROLLER));
  }

  @AfterAll
  static void closeTls() {
    agentTls.close();
    masterTls.close();
  }

  @AfterEach
  void stop() {
    if (session != null) {
      session.close();
    }
    servers.forEach(Server::shutdownNow);
    timers.shutdownNow();
  }

  /** One Connect call as the fake master sees it. */
  static final class Call {
    final String authorization;
    final List<AgentMessage> in = new CopyOnWriteArrayList<>();
    final StreamObserver<MasterMessage> out;
    volatile boolean ended;

    Call(String authorization, StreamObserver<MasterMessage> out) {
      this.authorization = authorization;
      this.out = out;
    }

    synchronized void send(MasterMessage m) {
      out.onNext(m);
    }
  }

  /** A master that records calls; its script answers each message. */
  static final class FakeMaster extends AgentSessionGrpc.AgentSessionImplBase {
    final List<Call> calls = new CopyOnWriteArrayList<>();
    volatile boolean answerPings = true;
    volatile Consumer<Call> onFirst =
        c -> {
          AgentMessage first = c.in.get(0);
          c.send(
              first.hasRegister()
                  ? MasterMessage.newBuilder()
                      .setRegistered(
                          Registered.newBuilder().setAgentId(first.getRegister().getAgentId()))
                      .build()
                  : MasterMessage.newBuilder()
                      .setReregistered(
                          Reregistered.newBuilder().setAgentId(first.getReregister().getAgentId()))
                      .build());
        };
    volatile String lastAuthorization;

    @Override
    public StreamObserver<AgentMessage> connect(StreamObserver<MasterMessage> out) {
      Call call = new Call(lastAuthorization, out);
      calls.add(call);
      return new StreamObserver<>() {
        @Override
        public void onNext(AgentMessage m) {
          call.in.add(m);
          if (call.in.size() == 1) {
            onFirst.accept(call);
          } else if (m.hasPing() && answerPings) {
            call.send(
                MasterMessage.newBuilder()
                    .setPong(Pong.newBuilder().setSequence(m.getPing().getSequence()))
                    .build());
          }
        }

        @Override
        public void onError(Throwable t) {
          call.ended = true;
        }

        @Override
        public void onCompleted() {
          call.ended = true;
        }
      };
    }
  }

  String serve(AgentSessionGrpc.AgentSessionImplBase service, FakeMaster recorder)
      throws Exception {
    ServerInterceptor headers =
        new ServerInterceptor() {
          @Override
          public <Q, A> ServerCall.Listener<Q> interceptCall(
              ServerCall<Q, A> call, Metadata h, ServerCallHandler<Q, A> next) {
            if (recorder != null) {
              recorder.lastAuthorization = h.get(AUTHORIZATION);
            }
            return next.startCall(call, h);
          }
        };
    Server server =
        NettyServerBuilder.forAddress(
                new InetSocketAddress("127.0.0.1", 0), masterTls.serverCredentials())
            .addService(
                ServerInterceptors.intercept(
                    service, headers, MutualTls.identityCheck(Set.of(Identity.AGENT))))
            .build()
            .start();
    servers.add(server);
    return "127.0.0.1:" + server.getPort();
  }

  /** The agent's side, recording what the session hands it. */
  static final class RecordingAgent implements MasterSession.Agent {
    volatile Optional<String> agentId = Optional.of("agent-uid-1");
    final List<Object> commands = new CopyOnWriteArrayList<>();
    volatile String gone;
    volatile List<Task> tasks = List.of();

    @Override
    public Optional<String> agentId() {
      return agentId;
    }

    @Override
    public List<Resource> resources() {
      return List.of(Resource.newBuilder().setName("cpus").setScalar(4).build());
    }

    @Override
    public List<Task> tasks() {
      return tasks;
    }

    @Override
    public Map<String, FrameworkInfo> frameworks() {
      return Map.of();
    }

    @Override
    public void runTask(RunTask run) {
      commands.add(run);
    }

    @Override
    public void killTask(KillTask kill) {
      commands.add(kill);
    }

    @Override
    public void shutdownFramework(ShutdownFramework shutdown) {
      commands.add(shutdown);
    }

    @Override
    public void gone(String message) {
      gone = message;
    }
  }

  final RecordingAgent agent = new RecordingAgent();
  final StatusUpdateQueues updates =
      new StatusUpdateQueues(RetryTimer.of(timers), Duration.ofMillis(300), Duration.ofSeconds(1));

  MasterSession start(List<String> masters, Duration masterTimeout) throws Exception {
    Path token = dir.resolve("token");
    if (!Files.exists(token)) {
      Files.writeString(token, "token-1\n");
    }
    session =
        new MasterSession(
                new SessionSettings(
                    masters,
                    token,
                    "node-a",
                    "boot-1",
                    Duration.ofMillis(200),
                    masterTimeout,
                    Duration.ofMillis(100),
                    Duration.ofMillis(500)),
                agentTls,
                agent,
                updates)
            .start();
    return session;
  }

  @Test
  void registersThenRunsWhatTheMasterSendsAndDeliversUpdatesUntilAcknowledged() throws Exception {
    FakeMaster master = new FakeMaster();
    start(List.of(serve(master, master)), PATIENCE);
    await().atMost(PATIENCE).until(() -> session.isUp());
    Call call = master.calls.get(0);
    assertThat(call.authorization).isEqualTo("Bearer token-1");
    AgentMessage first = call.in.get(0);
    assertThat(first.hasRegister()).isTrue();
    assertThat(first.getRegister().getAgentId()).isEqualTo("agent-uid-1");
    assertThat(first.getRegister().getHostname()).isEqualTo("node-a");
    assertThat(first.getRegister().getBootId()).isEqualTo("boot-1");
    assertThat(first.getRegister().getResourcesList()).hasSize(1);

    FrameworkInfo fw = FrameworkInfo.newBuilder().setId("fw").build();
    call.send(
        MasterMessage.newBuilder()
            .setRunTask(
                RunTask.newBuilder().setFramework(fw).setTask(TaskInfo.newBuilder().setTaskId("t")))
            .build());
    call.send(
        MasterMessage.newBuilder()
            .setKillTask(KillTask.newBuilder().setFrameworkId("fw").setTaskId("t"))
            .build());
    call.send(
        MasterMessage.newBuilder()
            .setShutdownFramework(ShutdownFramework.newBuilder().setFrameworkId("fw"))
            .build());
    await().atMost(PATIENCE).until(() -> agent.commands.size() == 3);
    assertThat(agent.commands.get(0)).isInstanceOf(RunTask.class);
    assertThat(agent.commands.get(1)).isInstanceOf(KillTask.class);
    assertThat(agent.commands.get(2)).isInstanceOf(ShutdownFramework.class);

    TaskStatus running =
        updates.add(
            fw, TaskStatus.newBuilder().setTaskId("t").setState(TaskState.TASK_RUNNING).build());
    await()
        .atMost(PATIENCE)
        .until(() -> call.in.stream().filter(AgentMessage::hasStatusUpdate).count() >= 2);
    assertThat(call.in.stream().filter(AgentMessage::hasStatusUpdate))
        .allSatisfy(m -> assertThat(m.getStatusUpdate().getStatus()).isEqualTo(running));
    call.send(
        MasterMessage.newBuilder()
            .setAcknowledgement(
                Acknowledgement.newBuilder()
                    .setFrameworkId("fw")
                    .setTaskId("t")
                    .setUuid(running.getUuid()))
            .build());
    await().atMost(PATIENCE).until(() -> updates.pending().isEmpty());
  }

  @Test
  void answersPingsAndPingsTheMaster() throws Exception {
    FakeMaster master = new FakeMaster();
    start(List.of(serve(master, master)), PATIENCE);
    await().atMost(PATIENCE).until(() -> session.isUp());
    Call call = master.calls.get(0);
    call.send(MasterMessage.newBuilder().setPing(Ping.newBuilder().setSequence(42)).build());
    await()
        .atMost(PATIENCE)
        .until(
            () -> call.in.stream().anyMatch(m -> m.hasPong() && m.getPong().getSequence() == 42));
    await()
        .atMost(PATIENCE)
        .until(() -> call.in.stream().filter(AgentMessage::hasPing).count() >= 3);
    assertThat(master.calls).as("a live master keeps its session").hasSize(1);
  }

  @Test
  void aSilentMasterIsLeftAndTheAgentReregistersWithWhatItHolds() throws Exception {
    FakeMaster master = new FakeMaster();
    master.answerPings = false;
    FrameworkInfo fw = FrameworkInfo.newBuilder().setId("fw").build();
    agent.tasks =
        List.of(
            Task.newBuilder()
                .setFrameworkId("fw")
                .setInfo(TaskInfo.newBuilder().setTaskId("t"))
                .setState(TaskState.TASK_RUNNING)
                .build());
    TaskStatus running =
        updates.add(
            fw, TaskStatus.newBuilder().setTaskId("t").setState(TaskState.TASK_RUNNING).build());
    start(List.of(serve(master, master)), Duration.ofSeconds(1));
    await().atMost(PATIENCE).until(() -> master.calls.size() >= 2);
    await().atMost(PATIENCE).until(() -> !master.calls.get(1).in.isEmpty());
    AgentMessage again = master.calls.get(1).in.get(0);
    assertThat(again.hasReregister()).isTrue();
    assertThat(again.getReregister().getTasksList())
        .singleElement()
        .satisfies(
            t -> {
              assertThat(t.getInfo().getTaskId()).isEqualTo("t");
              assertThat(t.getLatestStatus()).isEqualTo(running);
            });
    assertThat(again.getReregister().getFrameworksList()).containsExactly(fw);
    // The pending head is sent again at once on the new session.
    await()
        .atMost(PATIENCE)
        .until(() -> master.calls.get(1).in.stream().anyMatch(AgentMessage::hasStatusUpdate));
  }

  @Test
  void aStandbyIsLeftForTheLeaderItNames() throws Exception {
    FakeMaster leader = new FakeMaster();
    String leaderAddress = serve(leader, leader);
    List<Integer> standbyCalls = new CopyOnWriteArrayList<>();
    String standby =
        serve(
            new AgentSessionGrpc.AgentSessionImplBase() {
              @Override
              public StreamObserver<AgentMessage> connect(StreamObserver<MasterMessage> out) {
                standbyCalls.add(1);
                Metadata trailers = new Metadata();
                trailers.put(MasterSession.LEADER, leaderAddress);
                out.onError(
                    Status.UNAVAILABLE
                        .withDescription("not the leading master; the leader is " + leaderAddress)
                        .asRuntimeException(trailers));
                return new StreamObserver<>() {
                  public void onNext(AgentMessage m) {}

                  public void onError(Throwable t) {}

                  public void onCompleted() {}
                };
              }
            },
            null);
    // The leader is not in the list: only the hint leads there.
    start(List.of(standby), PATIENCE);
    await().atMost(PATIENCE).until(() -> session.isUp());
    assertThat(session.master()).isEqualTo(leaderAddress);
    assertThat(standbyCalls).hasSize(1);
  }

  @Test
  void anUnreachableMasterIsSkippedAndTokensAreReadAgainOnReconnect() throws Exception {
    FakeMaster master = new FakeMaster();
    String address = serve(master, master);
    start(List.of("127.0.0.1:1", address), PATIENCE);
    await().atMost(PATIENCE).until(() -> session.isUp());
    Files.writeString(dir.resolve("token"), "token-2");
    master
        .calls
        .get(0)
        .out
        .onError(Status.UNAVAILABLE.withDescription("lost the lease").asRuntimeException());
    await().atMost(PATIENCE).until(() -> master.calls.size() >= 2 && session.isUp());
    assertThat(master.calls.get(1).authorization).isEqualTo("Bearer token-2");
    assertThat(master.calls.get(1).in.get(0).hasReregister()).isTrue();
  }

  @Test
  void goneStopsTheSessionAndTellsTheAgent() throws Exception {
    FakeMaster master = new FakeMaster();
    master.onFirst =
        c -> {
          c.send(
              MasterMessage.newBuilder()
                  .setRefused(
                      Refused.newBuilder()
                          .setReason(Refused.Reason.REASON_AGENT_GONE)
                          .setMessage("marked gone by an operator"))
                  .build());
          c.out.onCompleted();
        };
    start(List.of(serve(master, master)), PATIENCE);
    await().atMost(PATIENCE).until(() -> agent.gone != null);
    assertThat(agent.gone).contains("REASON_AGENT_GONE").contains("marked gone by an operator");
    Thread.sleep(1000); // nothing to wait for: it must not come back
    assertThat(master.calls).hasSize(1);
  }

  @Test
  void waitsForAdmissionBeforeConnecting() throws Exception {
    FakeMaster master = new FakeMaster();
    agent.agentId = Optional.empty();
    start(List.of(serve(master, master)), PATIENCE);
    Thread.sleep(500); // nothing to wait for: it must not connect before admission
    assertThat(master.calls).isEmpty();
    agent.agentId = Optional.of("agent-uid-9");
    await().atMost(PATIENCE).until(() -> session.isUp());
    assertThat(master.calls.get(0).in.get(0).getRegister().getAgentId()).isEqualTo("agent-uid-9");
  }

  @Test
  void badSettingsAreNamed() {
    assertThatThrownBy(
            () ->
                new SessionSettings(
                    List.of("nohost"),
                    dir,
                    "n",
                    "b",
                    Duration.ofSeconds(1),
                    Duration.ofSeconds(5),
                    Duration.ofMillis(100),
                    Duration.ofSeconds(5)))
        .hasMessageContaining("'nohost' is not host:port");
    assertThatThrownBy(
            () ->
                new SessionSettings(
                    List.of("a:1"),
                    dir,
                    "n",
                    "b",
                    Duration.ofSeconds(5),
                    Duration.ofSeconds(5),
                    Duration.ofMillis(100),
                    Duration.ofSeconds(5)))
        .hasMessageContaining("--master-timeout");
  }
}
