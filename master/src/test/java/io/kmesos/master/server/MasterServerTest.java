package io.kmesos.master.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.Durations;
import io.grpc.CallOptions;
import io.grpc.ChannelCredentials;
import io.grpc.ClientCall;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.kmesos.api.agent.v1.AgentMessage;
import io.kmesos.api.agent.v1.AgentSessionGrpc;
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.agent.v1.Pong;
import io.kmesos.api.agent.v1.Refused;
import io.kmesos.api.agent.v1.Register;
import io.kmesos.api.agent.v1.Reregister;
import io.kmesos.api.agent.v1.StatusUpdate;
import io.kmesos.api.operator.v1.GetStateRequest;
import io.kmesos.api.operator.v1.GetStateResponse;
import io.kmesos.api.operator.v1.OperatorGrpc;
import io.kmesos.api.resources.ResourceProtos;
import io.kmesos.api.resources.Resources;
import io.kmesos.api.scheduler.v1.AcceptRequest;
import io.kmesos.api.scheduler.v1.AcknowledgeRequest;
import io.kmesos.api.scheduler.v1.Event;
import io.kmesos.api.scheduler.v1.Operation;
import io.kmesos.api.scheduler.v1.ReconcileRequest;
import io.kmesos.api.scheduler.v1.SchedulerGrpc;
import io.kmesos.api.scheduler.v1.SubscribeRequest;
import io.kmesos.api.scheduler.v1.TeardownRequest;
import io.kmesos.api.tls.CertificateDirectory;
import io.kmesos.api.tls.ClusterCertificates;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.MasterInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.master.auth.Authenticator;
import io.kmesos.master.auth.Caller;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The master's port over real gRPC and TLS on 127.0.0.1, in this JVM, with certificates of a CA
 * made for this class. The one fake is the {@link Authenticator} (TokenReview and
 * SubjectAccessReview need a cluster): tokens name callers from a fixed table.
 */
class MasterServerTest {
  static final Duration WAIT = Duration.ofSeconds(30);
  static final String AGENT_ID = "agent-uid-1";
  static final String NODE = "node-a";
  static final String HOST = "node-a.example.com";

  @TempDir static Path certificates;
  static CertificateDirectory ca;
  static MutualTls controllerTls;
  static MutualTls agentTls;
  static MutualTls adminTls;

  MasterServer server;
  final RecordingFrameworkStore store = new RecordingFrameworkStore();
  final SimpleMeterRegistry metrics = new SimpleMeterRegistry();
  final List<ManagedChannel> channels = new ArrayList<>();

  /** Tokens and what they stand for. */
  static final class FakeAuthenticator implements Authenticator {
    @Override
    public Caller authenticate(String token) throws Unauthenticated, Unavailable {
      return switch (token) {
        case "framework" ->
            new Caller("system:serviceaccount:apps:web", "uid-fw", List.of(), Optional.empty());
        case "other-framework" ->
            new Caller("system:serviceaccount:apps:batch", "uid-fw2", List.of(), Optional.empty());
        case "viewer" ->
            new Caller("system:serviceaccount:ops:viewer", "uid-v", List.of(), Optional.empty());
        case "agent" ->
            new Caller("system:serviceaccount:kmesos:agent", "uid-a", List.of(), Optional.of(NODE));
        case "agent-elsewhere" ->
            new Caller(
                "system:serviceaccount:kmesos:agent", "uid-b", List.of(), Optional.of("node-b"));
        case "cluster-down" ->
            throw new Unavailable("the API server did not answer", new RuntimeException());
        default -> throw new Unauthenticated("token unknown to the cluster");
      };
    }

    @Override
    public boolean mayUseRole(Caller caller, String role) {
      return !role.equals("forbidden");
    }

    @Override
    public boolean mayViewState(Caller caller) {
      return caller.principal().endsWith(":viewer");
    }
  }

  @BeforeAll
  static void issue() {
    ca = new CertificateDirectory(certificates);
    ClusterCertificates.ensure(
        ca,
        new ClusterCertificates.Settings(
            List.of(Identity.CONTROLLER, Identity.AGENT, Identity.ADMIN),
            Map.of(Identity.CONTROLLER, List.of("127.0.0.1", "localhost")),
            ClusterCertificates.Settings.DEFAULT_CA_VALIDITY,
            ClusterCertificates.Settings.DEFAULT_VALIDITY,
            false),
        Instant.now());
    controllerTls = MutualTls.load(ca.settings(Identity.CONTROLLER));
    agentTls = MutualTls.load(ca.settings(Identity.AGENT));
    adminTls = MutualTls.load(ca.settings(Identity.ADMIN));
  }

  @AfterAll
  static void closeTls() {
    controllerTls.close();
    agentTls.close();
    adminTls.close();
  }

  static MasterServerSettings settings() {
    return MasterServerSettings.defaults()
        .withListen("127.0.0.1", 0)
        .withAllocationInterval(Duration.ofMillis(100))
        .withAgentPing(Duration.ofMillis(200), Duration.ofMillis(400), 5)
        .withStreamQueueLimit(200);
  }

  MasterServer start(MasterServerSettings settings, Optional<String> leader) throws Exception {
    return MasterServer.start(
        settings,
        controllerTls,
        new FakeAuthenticator(),
        id -> id.equals(AGENT_ID) ? Optional.of(NODE) : Optional.empty(),
        () -> leader,
        server == null ? metrics : new SimpleMeterRegistry(),
        Clock.systemUTC());
  }

  @BeforeEach
  void lead() throws Exception {
    lead(settings());
  }

  /** What the master asked of the registry for agents: "unreachable id" / "reachable id". */
  final List<String> agentMarks = new CopyOnWriteArrayList<>();

  final AgentStore agentStore =
      new AgentStore() {
        @Override
        public CompletableFuture<Void> markUnreachable(String agentId, Instant at) {
          agentMarks.add("unreachable " + agentId);
          return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletableFuture<Void> markReachable(String agentId) {
          agentMarks.add("reachable " + agentId);
          return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletableFuture<Void> markRegistered(String agentId, Instant at) {
          registeredMarks.add(agentId);
          return CompletableFuture.completedFuture(null);
        }
      };

  /** The agents whose first registration the master recorded. */
  final List<String> registeredMarks = new CopyOnWriteArrayList<>();

  void lead(MasterServerSettings settings) throws Exception {
    lead(
        settings,
        new RegistryView(Map.of(AGENT_ID, HOST), Set.of(), Set.of(), Map.of("web", 2.0), Set.of()));
  }

  void lead(MasterServerSettings settings, RegistryView view) throws Exception {
    server = start(settings, Optional.empty());
    server.registryChanged(view);
    server.lead(
        MasterInfo.newBuilder()
            .setId("m1")
            .setAddress("127.0.0.1:" + server.port())
            .setVersion("test")
            .build(),
        store,
        agentStore);
    await().atMost(WAIT).until(server::serving);
  }

  @AfterEach
  void close() {
    channels.forEach(ManagedChannel::shutdownNow);
    server.close();
  }

  // ---- clients ---------------------------------------------------------------------------------

  /** A channel as a framework has it: TLS trusting the cluster's CA, no client certificate. */
  ManagedChannel frameworkChannel(int port) {
    ChannelCredentials creds;
    try {
      creds =
          TlsChannelCredentials.newBuilder()
              .trustManager(ca.settings(Identity.CONTROLLER).caFile().toFile())
              .build();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    ManagedChannel channel = Grpc.newChannelBuilderForAddress("127.0.0.1", port, creds).build();
    channels.add(channel);
    return channel;
  }

  /** A channel with a client certificate of {@code tls}, checking the controller's identity. */
  ManagedChannel certificateChannel(MutualTls tls) {
    ManagedChannel channel =
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1", server.port(), tls.channelCredentials(Identity.CONTROLLER))
            .build();
    channels.add(channel);
    return channel;
  }

  static Metadata bearer(String token) {
    Metadata m = new Metadata();
    m.put(Authentication.AUTHORIZATION, "Bearer " + token);
    return m;
  }

  SchedulerGrpc.SchedulerBlockingStub scheduler(String token) {
    SchedulerGrpc.SchedulerBlockingStub stub =
        SchedulerGrpc.newBlockingStub(frameworkChannel(server.port()))
            .withDeadlineAfter(30, TimeUnit.SECONDS);
    return token == null
        ? stub
        : stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)));
  }

  /** Collects whatever arrives on a stream, and how it ended. */
  static final class Received<T> implements StreamObserver<T> {
    final LinkedBlockingDeque<T> messages = new LinkedBlockingDeque<>();
    final CompletableFuture<Status> end = new CompletableFuture<>();

    @Override
    public void onNext(T value) {
      messages.add(value);
    }

    @Override
    public void onError(Throwable t) {
      end.complete(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
      end.complete(Status.OK);
    }

    /** Takes the first message (in order) that matches, waiting for it. */
    T take(Predicate<T> wanted) {
      AtomicReference<T> found = new AtomicReference<>();
      await()
          .atMost(WAIT)
          .until(
              () -> {
                for (T m : messages) {
                  if (wanted.test(m)) {
                    messages.remove(m);
                    found.set(m);
                    return true;
                  }
                }
                return false;
              });
      return found.get();
    }

    Status ended() throws Exception {
      return end.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }
  }

  /** A subscribed framework. */
  record Framework(String id, String stream, Received<Event> events) {}

  Framework subscribe(String token, String name, String... roles) throws Exception {
    Received<Event> events = new Received<>();
    SchedulerGrpc.newStub(frameworkChannel(server.port()))
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)))
        .subscribe(
            SubscribeRequest.newBuilder()
                .setFrameworkInfo(
                    FrameworkInfo.newBuilder().setName(name).addAllRoles(List.of(roles)))
                .build(),
            events);
    Event.Subscribed s = events.take(Event::hasSubscribed).getSubscribed();
    return new Framework(s.getFrameworkId(), s.getStreamId(), events);
  }

  /** An agent session whose client answers the master's pings. */
  final class Agent {
    final Received<MasterMessage> messages = new Received<>();
    final StreamObserver<AgentMessage> out;

    Agent(String token, boolean answerPings) {
      StreamObserver<MasterMessage> in =
          new StreamObserver<>() {
            @Override
            public void onNext(MasterMessage m) {
              if (m.hasPing() && answerPings) {
                synchronized (Agent.this) {
                  send(
                      AgentMessage.newBuilder()
                          .setPong(Pong.newBuilder().setSequence(m.getPing().getSequence()))
                          .build());
                }
                return;
              }
              if (!m.hasPing()) {
                messages.onNext(m);
              }
            }

            @Override
            public void onError(Throwable t) {
              messages.onError(t);
            }

            @Override
            public void onCompleted() {
              messages.onCompleted();
            }
          };
      AgentSessionGrpc.AgentSessionStub stub =
          AgentSessionGrpc.newStub(certificateChannel(agentTls));
      if (token != null) {
        stub = stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)));
      }
      out = stub.connect(in);
    }

    synchronized void send(AgentMessage m) {
      out.onNext(m);
    }
  }

  static AgentMessage register(String agentId, String hostname, String resources) {
    return AgentMessage.newBuilder()
        .setRegister(
            Register.newBuilder()
                .setAgentId(agentId)
                .setHostname(hostname)
                .addAllResources(ResourceProtos.write(Resources.parse(resources)))
                .setVersion("test"))
        .build();
  }

  Agent registeredAgent() {
    Agent agent = new Agent("agent", true);
    agent.send(register(AGENT_ID, HOST, "cpus:4;mem:4096"));
    assertThat(agent.messages.take(m -> true).hasRegistered()).isTrue();
    return agent;
  }

  static TaskInfo task(String id, String resources, String command) {
    TaskInfo.Builder t =
        TaskInfo.newBuilder()
            .setTaskId(id)
            .setName(id)
            .setAgentId(AGENT_ID)
            .addAllResources(ResourceProtos.write(Resources.parse(resources)));
    if (command != null) {
      t.setCommand(CommandInfo.newBuilder().setValue(command));
    }
    return t.build();
  }

  static AcceptRequest launch(Framework fw, List<String> offerIds, TaskInfo... tasks) {
    return AcceptRequest.newBuilder()
        .setFrameworkId(fw.id())
        .setStreamId(fw.stream())
        .addAllOfferIds(offerIds)
        .addOperations(
            Operation.newBuilder()
                .setLaunch(Operation.Launch.newBuilder().addAllTasks(List.of(tasks))))
        .build();
  }

  static Offer offer(Framework fw) {
    return fw.events().take(Event::hasOffers).getOffers().getOffers(0);
  }

  static TaskStatus update(Framework fw, String taskId) {
    return fw.events()
        .take(e -> e.hasUpdate() && e.getUpdate().getStatus().getTaskId().equals(taskId))
        .getUpdate()
        .getStatus();
  }

  static Status statusOf(Runnable call) {
    try {
      call.run();
      return Status.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus();
    }
  }

  // ---- the happy path --------------------------------------------------------------------------

  @Test
  void aFrameworkLaunchesATaskOnAnAgentAndItsUpdatesAndAcknowledgementsFlow() throws Exception {
    Agent agent = registeredAgent();
    Framework fw = subscribe("framework", "web-scheduler", "web");
    Offer offer = offer(fw);
    assertThat(offer.getAgentId()).isEqualTo(AGENT_ID);
    assertThat(offer.getHostname()).isEqualTo(HOST);

    scheduler("framework")
        .accept(launch(fw, List.of(offer.getId()), task("t1", "cpus:1;mem:128", "sleep 10")));

    MasterMessage run = agent.messages.take(MasterMessage::hasRunTask);
    assertThat(run.getRunTask().getTask().getTaskId()).isEqualTo("t1");
    assertThat(run.getRunTask().getFramework().getId()).isEqualTo(fw.id());

    TaskStatus running =
        TaskStatus.newBuilder()
            .setTaskId("t1")
            .setFrameworkId(fw.id())
            .setAgentId(AGENT_ID)
            .setState(TaskState.TASK_RUNNING)
            .setSource(TaskStatus.Source.SOURCE_EXECUTOR)
            .setUuid(ByteString.copyFromUtf8("uuid-1"))
            .build();
    agent.send(
        AgentMessage.newBuilder()
            .setStatusUpdate(StatusUpdate.newBuilder().setFrameworkId(fw.id()).setStatus(running))
            .build());
    TaskStatus seen = update(fw, "t1");
    assertThat(seen.getState()).isEqualTo(TaskState.TASK_RUNNING);
    assertThat(seen.getUuid()).isEqualTo(ByteString.copyFromUtf8("uuid-1"));

    scheduler("framework")
        .acknowledge(
            AcknowledgeRequest.newBuilder()
                .setFrameworkId(fw.id())
                .setStreamId(fw.stream())
                .setAgentId(AGENT_ID)
                .setTaskId("t1")
                .setUuid(seen.getUuid())
                .build());
    MasterMessage ack = agent.messages.take(MasterMessage::hasAcknowledgement);
    assertThat(ack.getAcknowledgement().getTaskId()).isEqualTo("t1");
    assertThat(ack.getAcknowledgement().getUuid()).isEqualTo(ByteString.copyFromUtf8("uuid-1"));

    GetStateResponse state =
        OperatorGrpc.newBlockingStub(certificateChannel(adminTls))
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .getState(GetStateRequest.getDefaultInstance());
    assertThat(state.getTasksList())
        .singleElement()
        .satisfies(t -> assertThat(t.getState()).isEqualTo(TaskState.TASK_RUNNING));
    assertThat(state.getAgentsList())
        .singleElement()
        .satisfies(a -> assertThat(a.getConnected()).isTrue());

    // What /metrics shows, counted after each allocation tick.
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              assertThat(
                      metrics
                          .get("kmesos.master.tasks")
                          .tag("state", "TASK_RUNNING")
                          .gauge()
                          .value())
                  .isEqualTo(1.0);
              assertThat(
                      metrics.get("kmesos.master.agents").tag("state", "connected").gauge().value())
                  .isEqualTo(1.0);
              assertThat(
                      metrics
                          .get("kmesos.master.frameworks")
                          .tag("state", "connected")
                          .gauge()
                          .value())
                  .isEqualTo(1.0);
              assertThat(metrics.get("kmesos.master.allocation.cycle").timer().count())
                  .isPositive();
            });
  }

  @Test
  void anAgentDeclaredGoneLosesItsTasksItsSessionAndMayNotComeBack() throws Exception {
    Agent agent = registeredAgent();
    Framework fw = subscribe("framework", "web-scheduler", "web");
    Offer offer = offer(fw);
    scheduler("framework")
        .accept(launch(fw, List.of(offer.getId()), task("t1", "cpus:1;mem:128", "sleep 10")));
    agent.messages.take(MasterMessage::hasRunTask);

    // The operator sets spec.gone; the controller marks it GONE in the registry.
    server.registryChanged(
        new RegistryView(Map.of(), Set.of(), Set.of(AGENT_ID), Map.of(), Set.of()));

    TaskStatus gone = update(fw, "t1");
    assertThat(gone.getState()).isEqualTo(TaskState.TASK_LOST); // the framework is not
    // PARTITION_AWARE; MasterCore's tests cover TASK_GONE_BY_OPERATOR for one that is.
    assertThat(gone.getReason()).isEqualTo(TaskStatus.Reason.REASON_AGENT_REMOVED_BY_OPERATOR);
    MasterMessage refused = agent.messages.take(MasterMessage::hasRefused);
    assertThat(refused.getRefused().getReason()).isEqualTo(Refused.Reason.REASON_AGENT_GONE);
    assertThat(refused.getRefused().getMessage()).contains("declared gone by an operator");
    assertThat(agent.messages.ended().getCode()).isEqualTo(Status.Code.OK);
    await().atMost(WAIT).until(() -> viewerState().getAgentsCount() == 0);

    for (AgentMessage again :
        List.of(
            register(AGENT_ID, HOST, "cpus:4;mem:4096"),
            AgentMessage.newBuilder()
                .setReregister(
                    Reregister.newBuilder()
                        .setAgentId(AGENT_ID)
                        .setHostname(HOST)
                        .addAllResources(ResourceProtos.write(Resources.parse("cpus:4")))
                        .setVersion("test"))
                .build())) {
      Agent back = new Agent("agent", true);
      back.send(again);
      MasterMessage no = back.messages.take(m -> true);
      assertThat(no.getRefused().getReason()).isEqualTo(Refused.Reason.REASON_AGENT_GONE);
      assertThat(no.getRefused().getMessage())
          .isEqualTo("agent " + AGENT_ID + " was declared gone; it never comes back under this ID");
    }
  }

  @Test
  void aSchedulerFailoverEndsTheOldStreamAndTeardownTheNew() throws Exception {
    Framework first = subscribe("framework", "web-scheduler", "web");
    Received<Event> again = new Received<>();
    SchedulerGrpc.newStub(frameworkChannel(server.port()))
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer("framework")))
        .subscribe(
            SubscribeRequest.newBuilder()
                .setFrameworkInfo(
                    FrameworkInfo.newBuilder()
                        .setId(first.id())
                        .setName("web-scheduler")
                        .addRoles("web"))
                .build(),
            again);
    Event.Subscribed second = again.take(Event::hasSubscribed).getSubscribed();
    assertThat(second.getFrameworkId()).isEqualTo(first.id());
    // The old stream's last event says why; then it ends.
    assertThat(first.events().take(Event::hasError).getError().getMessage()).isNotBlank();
    assertThat(first.events().ended().isOk()).isTrue();

    scheduler("framework")
        .teardown(
            TeardownRequest.newBuilder()
                .setFrameworkId(first.id())
                .setStreamId(second.getStreamId())
                .build());
    assertThat(again.ended().isOk()).isTrue();
    Status gone =
        statusOf(
            () ->
                scheduler("framework")
                    .reconcile(
                        ReconcileRequest.newBuilder()
                            .setFrameworkId(first.id())
                            .setStreamId(second.getStreamId())
                            .build()));
    assertThat(gone.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
  }

  @Test
  void aFrameworkIsInTheRegistryBeforeItLearnsItsIdAndLeavesItWhenTornDown() throws Exception {
    Framework fw = subscribe("framework", "web-scheduler", "web");
    // subscribe() returned after the subscribed event: the record was stored before it went out.
    assertThat(store.stored)
        .first()
        .satisfies(
            op -> {
              assertThat(op.hasAddFramework()).isTrue();
              assertThat(op.getAddFramework().getFramework().getInfo().getId()).isEqualTo(fw.id());
              assertThat(op.getAddFramework().getFramework().getInfo().getPrincipal())
                  .isEqualTo("system:serviceaccount:apps:web");
            });
    scheduler("framework")
        .teardown(
            TeardownRequest.newBuilder().setFrameworkId(fw.id()).setStreamId(fw.stream()).build());
    assertThat(fw.events().ended().isOk()).isTrue();
    assertThat(store.stored)
        .last()
        .satisfies(op -> assertThat(op.getRemoveFramework().getId()).isEqualTo(fw.id()));
  }

  @Test
  void aMasterThatCannotStoreAFrameworkStopsServingAndGivesUp() throws Exception {
    Framework fw = subscribe("framework", "web-scheduler", "web");
    store.failing = true;
    Received<Event> refused = new Received<>();
    SchedulerGrpc.newStub(frameworkChannel(server.port()))
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer("other-framework")))
        .subscribe(
            SubscribeRequest.newBuilder()
                .setFrameworkInfo(FrameworkInfo.newBuilder().setName("batch").addRoles("batch"))
                .build(),
            refused);
    Status status = refused.ended();
    assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(status.getDescription()).contains("could not write the registry");
    assertThat(refused.messages).noneMatch(Event::hasSubscribed);
    assertThat(store.failures).singleElement().asString().contains("superseded");
    // The subscribed framework's stream ends too, and the port answers as a standby from now on.
    assertThat(fw.events().ended().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(server.serving()).isFalse();
  }

  // ---- bad input -------------------------------------------------------------------------------

  @Test
  void acceptsOfUnknownOrUsedOffersAreRefusedAndChangeNothingElse() throws Exception {
    registeredAgent();
    Framework fw = subscribe("framework", "web-scheduler", "web");
    Offer offer = offer(fw);

    Status unknown =
        statusOf(
            () ->
                scheduler("framework")
                    .accept(launch(fw, List.of("no-such-offer"), task("t0", "cpus:1", "true"))));
    assertThat(unknown.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(unknown.getDescription()).contains("no-such-offer");

    scheduler("framework")
        .accept(launch(fw, List.of(offer.getId()), task("t1", "cpus:1;mem:128", "sleep 10")));
    Status twice =
        statusOf(
            () ->
                scheduler("framework")
                    .accept(launch(fw, List.of(offer.getId()), task("t2", "cpus:1", "true"))));
    assertThat(twice.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(twice.getDescription()).contains(offer.getId());
    // The first launch stands.
    assertThat(update(fw, "t0").getState())
        .isIn(TaskState.TASK_ERROR, TaskState.TASK_DROPPED, TaskState.TASK_LOST);
    assertThat(update(fw, "t2").getState())
        .isIn(TaskState.TASK_ERROR, TaskState.TASK_DROPPED, TaskState.TASK_LOST);
    GetStateResponse state = viewerState();
    assertThat(state.getTasksList()).extracting(t -> t.getInfo().getTaskId()).containsExactly("t1");
  }

  @Test
  void anOfferNotAnsweredInTimeIsRescindedAndThenStale() throws Exception {
    server.close();
    lead(settings().withOfferTimeout(Duration.ofMillis(500)));
    registeredAgent();
    Framework fw = subscribe("framework", "web-scheduler", "web");
    Offer offer = offer(fw);
    Event rescind = fw.events().take(Event::hasRescind);
    assertThat(rescind.getRescind().getOfferId()).isEqualTo(offer.getId());
    Status stale =
        statusOf(
            () ->
                scheduler("framework")
                    .accept(launch(fw, List.of(offer.getId()), task("t1", "cpus:1", "true"))));
    assertThat(stale.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(stale.getDescription()).contains(offer.getId());
  }

  @Test
  void invalidTasksEndInTaskErrorNamingTheProblemWithoutAffectingTheOthers() throws Exception {
    Agent agent = registeredAgent();
    Framework fw = subscribe("framework", "web-scheduler", "web");
    Offer offer = offer(fw);
    scheduler("framework")
        .accept(
            launch(
                fw,
                List.of(offer.getId()),
                task("ok", "cpus:1;mem:128", "sleep 10"),
                task("ok", "cpus:1;mem:128", "sleep 10"),
                task("empty", "cpus:1;mem:128", null),
                task("greedy", "cpus:64;mem:128", "sleep 10")));
    TaskStatus duplicate =
        fw.events()
            .take(
                e ->
                    e.hasUpdate()
                        && e.getUpdate().getStatus().getTaskId().equals("ok")
                        && e.getUpdate().getStatus().getState() == TaskState.TASK_ERROR)
            .getUpdate()
            .getStatus();
    assertThat(duplicate.getMessage()).contains("duplicate task ID");
    TaskStatus empty = update(fw, "empty");
    assertThat(empty.getState()).isEqualTo(TaskState.TASK_ERROR);
    assertThat(empty.getMessage()).contains("empty command");
    TaskStatus greedy = update(fw, "greedy");
    assertThat(greedy.getState()).isEqualTo(TaskState.TASK_ERROR);
    assertThat(greedy.getMessage()).contains("more resources");
    // The valid one runs.
    assertThat(agent.messages.take(MasterMessage::hasRunTask).getRunTask().getTask().getTaskId())
        .isEqualTo("ok");
  }

  @Test
  void aCallWithAnotherFrameworksStreamIdIsDenied() throws Exception {
    Framework web = subscribe("framework", "web-scheduler", "web");
    Framework batch = subscribe("other-framework", "batch-scheduler", "batch");
    Status status =
        statusOf(
            () ->
                scheduler("framework")
                    .reconcile(
                        ReconcileRequest.newBuilder()
                            .setFrameworkId(web.id())
                            .setStreamId(batch.stream())
                            .build()));
    assertThat(status.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(status.getDescription()).isNotBlank();
  }

  @Test
  void unauthenticatedCallersAreRefused() throws Exception {
    Status none = statusOf(() -> scheduler(null).reconcile(ReconcileRequest.getDefaultInstance()));
    assertThat(none.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(none.getDescription()).contains("authorization: Bearer");

    Status bad =
        statusOf(() -> scheduler("stolen").reconcile(ReconcileRequest.getDefaultInstance()));
    assertThat(bad.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(bad.getDescription()).contains("token unknown to the cluster");

    Status down =
        statusOf(() -> scheduler("cluster-down").reconcile(ReconcileRequest.getDefaultInstance()));
    assertThat(down.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(down.getDescription()).contains("the API server did not answer");

    Received<Event> events = new Received<>();
    SchedulerGrpc.newStub(frameworkChannel(server.port()))
        .subscribe(
            SubscribeRequest.newBuilder()
                .setFrameworkInfo(FrameworkInfo.newBuilder().setName("x").addRoles("web"))
                .build(),
            events);
    assertThat(events.ended().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
  }

  @Test
  void aRoleTheCallerMayNotUseIsDeniedNamingIt() throws Exception {
    Received<Event> events = new Received<>();
    SchedulerGrpc.newStub(frameworkChannel(server.port()))
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer("framework")))
        .subscribe(
            SubscribeRequest.newBuilder()
                .setFrameworkInfo(
                    FrameworkInfo.newBuilder().setName("x").addRoles("web").addRoles("forbidden"))
                .build(),
            events);
    Status status = events.ended();
    assertThat(status.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(status.getDescription())
        .contains("'forbidden'")
        .contains("system:serviceaccount:apps:web");
    assertThat(events.messages).isEmpty();
  }

  @Test
  void agentsMustBeAdmittedAndSpeakForTheirOwnNode() throws Exception {
    Agent unknown = new Agent("agent", true);
    unknown.send(register("agent-uid-unknown", HOST, "cpus:1"));
    MasterMessage refused = unknown.messages.take(m -> true);
    assertThat(refused.getRefused().getReason()).isEqualTo(Refused.Reason.REASON_NOT_ADMITTED);
    assertThat(refused.getRefused().getMessage()).contains("agent-uid-unknown");
    assertThat(unknown.messages.ended().isOk()).isTrue();

    Agent elsewhere = new Agent("agent-elsewhere", true);
    elsewhere.send(register(AGENT_ID, HOST, "cpus:1"));
    Status denied = elsewhere.messages.ended();
    assertThat(denied.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(denied.getDescription()).contains("node-b").contains(NODE);

    Agent wrongHost = new Agent("agent", true);
    wrongHost.send(register(AGENT_ID, "other.example.com", "cpus:1"));
    assertThat(wrongHost.messages.take(m -> true).getRefused().getReason())
        .isEqualTo(Refused.Reason.REASON_HOSTNAME_MISMATCH);

    Agent noToken = new Agent(null, true);
    noToken.send(register(AGENT_ID, HOST, "cpus:1"));
    assertThat(noToken.messages.ended().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);

    // A framework's channel (no agent certificate) may not open an agent session.
    Received<MasterMessage> noCert = new Received<>();
    AgentSessionGrpc.newStub(frameworkChannel(server.port()))
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer("agent")))
        .connect(noCert)
        .onNext(register(AGENT_ID, HOST, "cpus:1"));
    assertThat(noCert.ended().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);

    Agent noRegister = new Agent("agent", true);
    noRegister.send(AgentMessage.newBuilder().setPong(Pong.getDefaultInstance()).build());
    Status invalid = noRegister.messages.ended();
    assertThat(invalid.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(invalid.getDescription()).contains("register");

    // None of this kept the real agent out.
    registeredAgent();
  }

  @Test
  void aNewSessionOfAnAgentEndsTheOldOne() throws Exception {
    Agent first = registeredAgent();
    registeredAgent();
    Status ended = first.messages.ended();
    assertThat(ended.getCode()).isEqualTo(Status.Code.ABORTED);
    assertThat(ended.getDescription()).contains("new session");
  }

  @Test
  void anAdmittedAgentThatDoesNotReregisterAfterAFailoverIsMarkedUnreachableAndMayComeBack()
      throws Exception {
    server.close();
    // Admitted with an agent that registered before (registered_at), and one that never did.
    lead(
        settings().withFailover(Duration.ofSeconds(1), 0.8, Duration.ofMinutes(10)),
        new RegistryView(
            Map.of(AGENT_ID, HOST, "never-ran", "never-ran.example"),
            Set.of(),
            Set.of(),
            Map.of(),
            Set.of(AGENT_ID)));
    await().atMost(WAIT).until(() -> agentMarks.contains("unreachable " + AGENT_ID));
    // Both would be due in the same ping round: only the one that ran is waited for.
    assertThat(agentMarks).doesNotContain("unreachable never-ran");
    Agent back = new Agent("agent", true);
    back.send(
        AgentMessage.newBuilder()
            .setReregister(
                Reregister.newBuilder()
                    .setAgentId(AGENT_ID)
                    .setHostname(HOST)
                    .addAllResources(ResourceProtos.write(Resources.parse("cpus:4;mem:4096")))
                    .setVersion("test"))
            .build());
    assertThat(back.messages.take(m -> true).hasReregistered()).isTrue();
    assertThat(agentMarks).containsExactly("unreachable " + AGENT_ID, "reachable " + AGENT_ID);
    await().atMost(WAIT).until(() -> viewerState().getAgentsCount() == 1);
  }

  @Test
  void anAgentsFirstRegistrationIsRecordedOnceBeforeItIsRegistered() throws Exception {
    registeredAgent();
    assertThat(registeredMarks).containsExactly(AGENT_ID);
    registeredAgent();
    assertThat(registeredMarks).as("recorded once").containsExactly(AGENT_ID);
  }

  @Test
  void anAgentThatAnswersNoPingIsMarkedUnreachableAndMayComeBack() throws Exception {
    Agent silent = new Agent("agent", false);
    silent.send(register(AGENT_ID, HOST, "cpus:4;mem:4096"));
    assertThat(silent.messages.take(m -> true).hasRegistered()).isTrue();
    Status ended = silent.messages.ended();
    assertThat(ended.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(ended.getDescription()).contains("answered no ping").contains("marked unreachable");
    await().atMost(WAIT).until(() -> viewerState().getAgentsCount() == 0);
    // It answers again: taken back (the store here records nothing and agrees at once).
    Agent back = new Agent("agent", true);
    back.send(
        AgentMessage.newBuilder()
            .setReregister(
                Reregister.newBuilder()
                    .setAgentId(AGENT_ID)
                    .setHostname(HOST)
                    .addAllResources(ResourceProtos.write(Resources.parse("cpus:4;mem:4096")))
                    .setVersion("test"))
            .build());
    assertThat(back.messages.take(m -> true).hasReregistered()).isTrue();
    await().atMost(WAIT).until(() -> viewerState().getAgentsCount() == 1);
    assertThat(viewerState().getAgents(0).getConnected()).isTrue();
    assertThat(agentMarks).containsExactly("unreachable " + AGENT_ID, "reachable " + AGENT_ID);
  }

  @Test
  void garbageOnThePortLeavesTheServerServing() throws Exception {
    for (byte[] junk :
        List.of(
            "GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII),
            new byte[] {0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5},
            new byte[4096])) {
      try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), server.port())) {
        socket.setSoTimeout(5000);
        OutputStream out = socket.getOutputStream();
        out.write(junk);
        out.flush();
        try {
          socket.getInputStream().read(new byte[1024]);
        } catch (IOException ignored) {
          // the server may reset the connection: that is the point
        }
      }
    }
    assertThat(viewerState().getMasterInfo().getId()).isEqualTo("m1");
  }

  @Test
  void theOperatorApiNeedsTheRightToView() throws Exception {
    Status denied =
        statusOf(
            () ->
                OperatorGrpc.newBlockingStub(frameworkChannel(server.port()))
                    .withInterceptors(
                        MetadataUtils.newAttachHeadersInterceptor(bearer("framework")))
                    .getState(GetStateRequest.getDefaultInstance()));
    assertThat(denied.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(denied.getDescription()).contains("system:serviceaccount:apps:web");
    assertThat(viewerState().getMasterInfo().getId()).isEqualTo("m1");
  }

  GetStateResponse viewerState() {
    return OperatorGrpc.newBlockingStub(frameworkChannel(server.port()))
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer("viewer")))
        .withDeadlineAfter(30, TimeUnit.SECONDS)
        .getState(GetStateRequest.getDefaultInstance());
  }

  // ---- standby and slow readers ----------------------------------------------------------------

  @Test
  void aStandbyAnswersUnavailableNamingTheLeader() throws Exception {
    try (MasterServer standby = start(settings(), Optional.of("leader.example:5050"))) {
      ManagedChannel channel = frameworkChannel(standby.port());
      StatusRuntimeException e =
          catchThrowableOfType(
              () ->
                  SchedulerGrpc.newBlockingStub(channel)
                      .withInterceptors(
                          MetadataUtils.newAttachHeadersInterceptor(bearer("framework")))
                      .reconcile(ReconcileRequest.getDefaultInstance()),
              StatusRuntimeException.class);
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(e.getStatus().getDescription())
          .isEqualTo("not the leading master; the leader is leader.example:5050");
      assertThat(e.getTrailers().get(Standby.LEADER)).isEqualTo("leader.example:5050");
      // Health answers all the same: the port is up.
      assertThat(
              HealthGrpc.newBlockingStub(channel)
                  .check(HealthCheckRequest.getDefaultInstance())
                  .getStatus())
          .isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
    }
    try (MasterServer standby = start(settings(), Optional.empty())) {
      assertThatThrownBy(
              () ->
                  SchedulerGrpc.newBlockingStub(frameworkChannel(standby.port()))
                      .reconcile(ReconcileRequest.getDefaultInstance()))
          .hasMessageContaining("not the leading master; no leader is known");
    }
  }

  @Test
  void aWarmedUpStandbyStillStandsByAndLeadsWithWhatItIsGivenOnly() throws Exception {
    server.close();
    server = start(settings(), Optional.of("leader.example:5050"));
    io.kmesos.api.registry.v1.Framework held =
        io.kmesos.api.registry.v1.Framework.newBuilder()
            .setInfo(
                FrameworkInfo.newBuilder()
                    .setId("old-master-0000")
                    .setName("web")
                    .addRoles("web")
                    .setPrincipal("system:serviceaccount:apps:web"))
            .build();
    assertThat(server.warmUp(List.of(held), List.of(AGENT_ID)).get(30, TimeUnit.SECONDS))
        .as("the warm-up ran the master's start on what the registry held")
        .isTrue();
    assertThat(server.serving()).isFalse();
    assertThatThrownBy(
            () -> scheduler("framework").reconcile(ReconcileRequest.getDefaultInstance()))
        .as("still a standby")
        .hasMessageContaining("not the leading master; the leader is leader.example:5050");

    server.registryChanged(
        new RegistryView(Map.of(AGENT_ID, HOST), Set.of(), Set.of(), Map.of(), Set.of()));
    server.lead(
        MasterInfo.newBuilder().setId("m2").setAddress("127.0.0.1:" + server.port()).build(),
        store,
        agentStore);
    await().atMost(WAIT).until(server::serving);
    assertThat(viewerState().getFrameworksList())
        .as("the spare core's framework is gone with it")
        .isEmpty();
    assertThat(store.stored).as("the warm-up stored nothing").isEmpty();
    assertThat(agentMarks).as("nor marked any agent").isEmpty();
    assertThat(server.warmUp(List.of(held), List.of()).get(30, TimeUnit.SECONDS))
        .as("a master does not warm up again")
        .isFalse();
  }

  @Test
  void aSlowSubscriberLosesItsStreamWithoutHoldingUpOthers() throws Exception {
    Framework fast = subscribe("other-framework", "fast", "batch");
    // A subscriber that reads its first event (subscribed) and then nothing.
    ManagedChannel channel = frameworkChannel(server.port());
    ClientCall<SubscribeRequest, Event> slow =
        channel.newCall(SchedulerGrpc.getSubscribeMethod(), CallOptions.DEFAULT);
    LinkedBlockingDeque<Event> slowEvents = new LinkedBlockingDeque<>();
    CompletableFuture<Status> slowEnd = new CompletableFuture<>();
    slow.start(
        new ClientCall.Listener<>() {
          @Override
          public void onMessage(Event message) {
            slowEvents.add(message);
          }

          @Override
          public void onClose(Status status, Metadata trailers) {
            slowEnd.complete(status);
          }
        },
        bearer("framework"));
    slow.sendMessage(
        SubscribeRequest.newBuilder()
            .setFrameworkInfo(
                FrameworkInfo.newBuilder()
                    .setName("slow")
                    .addRoles("web")
                    .setFailoverTimeout(Durations.fromSeconds(3600)))
            .build());
    slow.halfClose();
    slow.request(1);
    await().atMost(WAIT).until(() -> !slowEvents.isEmpty());
    Event.Subscribed s = slowEvents.poll().getSubscribed();

    // Far more events than the transport buffers and the queue holds (200).
    ReconcileRequest.Builder many =
        ReconcileRequest.newBuilder()
            .setFrameworkId(s.getFrameworkId())
            .setStreamId(s.getStreamId());
    for (int i = 0; i < 20_000; i++) {
      many.addTasks(ReconcileRequest.Task.newBuilder().setTaskId("unknown-task-" + i));
    }
    scheduler("framework").reconcile(many.build());

    // The other framework is served meanwhile.
    scheduler("other-framework")
        .reconcile(
            ReconcileRequest.newBuilder()
                .setFrameworkId(fast.id())
                .setStreamId(fast.stream())
                .addTasks(ReconcileRequest.Task.newBuilder().setTaskId("mine"))
                .build());
    assertThat(update(fast, "mine").getState()).isIn(TaskState.TASK_UNKNOWN, TaskState.TASK_LOST);

    // The slow one, once it reads, finds its stream ended for being slow.
    slow.request(Integer.MAX_VALUE);
    Status ended = slowEnd.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertThat(ended.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(ended.getDescription()).contains("does not read its stream");
    assertThat(slowEvents.size()).isLessThan(20_000);
    // And it is disconnected in the master's view.
    await()
        .atMost(WAIT)
        .until(
            () ->
                viewerState().getFrameworksList().stream()
                    .anyMatch(f -> f.getInfo().getName().equals("slow") && !f.getConnected()));
  }
}
