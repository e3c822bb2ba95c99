package io.kmesos.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.util.Durations;
import io.grpc.CallCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.kmesos.api.operator.v1.GetStateRequest;
import io.kmesos.api.operator.v1.GetStateResponse;
import io.kmesos.api.operator.v1.OperatorGrpc;
import io.kmesos.api.resources.ResourceProtos;
import io.kmesos.api.resources.Resources;
import io.kmesos.api.scheduler.v1.AcceptRequest;
import io.kmesos.api.scheduler.v1.DeclineRequest;
import io.kmesos.api.scheduler.v1.Event;
import io.kmesos.api.scheduler.v1.Operation;
import io.kmesos.api.scheduler.v1.ReviveRequest;
import io.kmesos.api.scheduler.v1.SchedulerGrpc;
import io.kmesos.api.scheduler.v1.SubscribeRequest;
import io.kmesos.api.scheduler.v1.TeardownRequest;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.api.tls.ServerTrust;
import io.kmesos.api.tls.TlsSettings;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.Filters;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.api.v1.Task;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.framework.BearerToken;
import io.kmesos.framework.CallRefusedException;
import io.kmesos.framework.FrameworkClient;
import io.kmesos.framework.FrameworkSettings;
import io.kmesos.framework.Scheduler;
import io.kmesos.local.KmesosLocalFixture.KmesosLocal;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input end to end (#12), against the real bin/kmesos-local cluster: the master authenticates
 * with the API server (TokenReview, SubjectAccessReview), tasks run on the two agent processes.
 * Each case gets its clear error (a gRPC status naming the problem, or a TASK_ERROR update naming
 * it) and has no effect on other tasks: a task started first keeps running throughout, the master
 * keeps serving (a good launch after the bad one runs), and its operator view (GetState) shows
 * nothing of what was refused.
 *
 * <p>Frameworks here use the real client library ({@link FrameworkClient}) where it can make the
 * bad call, and raw Scheduler stubs where it cannot (another framework's stream ID, no token).
 */
@ExtendWith(KmesosLocalFixture.class)
class BadInputIT {
  private static final Duration PATIENCE = Duration.ofMinutes(3);
  private static final String ROLE = "analytics";
  private static final String SLOT = "cpus:0.1;mem:16";
  private static final String USER = "system:serviceaccount:demo:demo-framework";

  private static List<String> masters;
  private static Path token;
  private static ServerTrust trust;
  private static MutualTls admin;
  private static GreedyFramework bystander;
  private static String bystanderTask;

  @TempDir Path temp;
  private final List<AutoCloseable> closeAfter = new ArrayList<>();

  @BeforeAll
  static void startABystanderTask(KmesosLocal local) {
    masters = List.of(local.masters().split(","));
    token = local.token();
    trust =
        ServerTrust.load(
            local.tls().resolve(TlsSettings.CA_FILE),
            Identity.CONTROLLER,
            TlsSettings.DEFAULT_RELOAD);
    admin = MutualTls.load(TlsSettings.fromDirectory(local.tls()));
    bystander =
        new GreedyFramework(
            masters,
            trust.channelCredentials(),
            token,
            FrameworkInfo.newBuilder().setName("bad-input-bystander"),
            ROLE,
            SLOT,
            "sleep 600",
            1);
    await().atMost(PATIENCE).until(() -> bystander.inState(TaskState.TASK_RUNNING) == 1);
    bystanderTask = bystander.latest.keySet().iterator().next();
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (bystander != null) {
      bystander.client.teardown().get(60, TimeUnit.SECONDS);
      bystander.close();
      // The other ITs of this JVM share the cluster: leave nothing of ours in it (every framework
      // here is named bad-input-*; removing a framework ends its tasks).
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () ->
                  assertThat(state().getFrameworksList())
                      .noneMatch(f -> f.getInfo().getName().startsWith("bad-input-")));
    }
    if (admin != null) {
      admin.close();
    }
    if (trust != null) {
      trust.close();
    }
  }

  /** Whatever a case did, the bystander's task runs on, and the master serves. */
  @AfterEach
  void noEffectOnOtherTasks() throws Exception {
    Exception failed = null;
    for (int i = closeAfter.size() - 1; i >= 0; i--) {
      try {
        closeAfter.get(i).close();
      } catch (Exception e) {
        failed = failed == null ? e : failed;
      }
    }
    if (failed != null) {
      throw failed;
    }
    assertThat(bystander.latest.get(bystanderTask).getState()).isEqualTo(TaskState.TASK_RUNNING);
    assertThat(task(state(), bystander.client.frameworkId(), bystanderTask))
        .get()
        .extracting(Task::getState)
        .isEqualTo(TaskState.TASK_RUNNING);
  }

  // ---- offers
  // ------------------------------------------------------------------------------------

  @Test
  void anUnknownOrStaleOfferIsInvalidArgumentAndItsTaskIsLost() throws Exception {
    Recorder f = framework("bad-input-unknown-offer");
    CallRefusedException refused =
        refusal(
            f.client.launch(
                List.of("no-such-offer"), List.of(sleepTask("unknown-offer-1", "x")), null));
    assertThat(refused.status().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(refused.status().getDescription()).contains("offer 'no-such-offer' is unknown");
    // Its task never starts: TASK_LOST (TASK_DROPPED for PARTITION_AWARE frameworks).
    TaskStatus lost = f.awaitUpdate("unknown-offer-1", TaskState.TASK_LOST);
    assertThat(lost.getReason()).isEqualTo(TaskStatus.Reason.REASON_INVALID_OFFERS);
    assertThat(lost.getMessage()).contains("no-such-offer");
    assertThat(state().getTasksList())
        .noneMatch(t -> t.getInfo().getTaskId().equals("unknown-offer-1"));
    // A stale offer (declined, so no longer the framework's) is refused the same way.
    Offer declined = f.takeOffer();
    f.client.decline(List.of(declined.getId()), null).get(60, TimeUnit.SECONDS);
    CallRefusedException stale =
        refusal(
            f.client.launch(
                List.of(declined.getId()),
                List.of(sleepTask("stale-offer-1", declined.getAgentId())),
                null));
    assertThat(stale.status().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(stale.status().getDescription())
        .contains("offer '" + declined.getId() + "' is already declined");
    assertThat(f.awaitUpdate("stale-offer-1", TaskState.TASK_LOST).getReason())
        .isEqualTo(TaskStatus.Reason.REASON_INVALID_OFFERS);
    f.launchAndAwaitRunning("unknown-offer-good");
  }

  @Test
  void anOfferUsedTwiceIsRefusedTheSecondTimeAndTheFirstLaunchRuns() throws Exception {
    Recorder f = framework("bad-input-offer-twice");
    Offer offer = f.takeOffer();
    f.client
        .launch(List.of(offer.getId()), List.of(sleepTask("twice-1", offer.getAgentId())), null)
        .get(60, TimeUnit.SECONDS);
    CallRefusedException refused =
        refusal(
            f.client.launch(
                List.of(offer.getId()), List.of(sleepTask("twice-2", offer.getAgentId())), null));
    assertThat(refused.status().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(refused.status().getDescription())
        .contains("offer '" + offer.getId() + "' is already used by an Accept");
    assertThat(f.awaitUpdate("twice-2", TaskState.TASK_LOST).getReason())
        .isEqualTo(TaskStatus.Reason.REASON_INVALID_OFFERS);
    f.awaitUpdate("twice-1", TaskState.TASK_RUNNING);
    // A Decline of the used offer is ignored (as of a rescinded one): it changes nothing.
    f.client.decline(List.of(offer.getId()), null).get(60, TimeUnit.SECONDS);
    GetStateResponse state = state();
    assertThat(task(state, f.client.frameworkId(), "twice-1"))
        .get()
        .extracting(Task::getState)
        .isEqualTo(TaskState.TASK_RUNNING);
    assertThat(task(state, f.client.frameworkId(), "twice-2")).isEmpty();
  }

  // ---- tasks
  // -------------------------------------------------------------------------------------

  @Test
  void aTaskThatNeedsMoreThanItsOfferEndsTaskErrorAndTheOtherTaskOfTheAcceptRuns()
      throws Exception {
    Recorder f = framework("bad-input-overcommit");
    Offer offer = f.takeOffer();
    TaskInfo tooBig =
        sleepTask("overcommit-big", offer.getAgentId()).toBuilder()
            .clearResources()
            .addAllResources(ResourceProtos.write(Resources.parse("cpus:1000;mem:16")))
            .build();
    f.client
        .launch(
            List.of(offer.getId()),
            List.of(tooBig, sleepTask("overcommit-fits", offer.getAgentId())),
            Filters.newBuilder().setRefuse(Durations.ZERO).build())
        .get(60, TimeUnit.SECONDS);
    TaskStatus error = f.awaitUpdate("overcommit-big", TaskState.TASK_ERROR);
    assertThat(error.getReason()).isEqualTo(TaskStatus.Reason.REASON_TASK_INVALID);
    assertThat(error.getMessage())
        .contains("task 'overcommit-big' uses more resources")
        .contains("than its offers have left");
    f.awaitUpdate("overcommit-fits", TaskState.TASK_RUNNING);
    assertThat(task(state(), f.client.frameworkId(), "overcommit-big")).isEmpty();
  }

  @Test
  void aTaskIdOfARunningTaskEndsTaskErrorAndTheRunningTaskGoesOn() throws Exception {
    Recorder f = framework("bad-input-duplicate");
    String agent = f.launchAndAwaitRunning("duplicate");
    Offer offer = f.takeOffer();
    f.client
        .launch(List.of(offer.getId()), List.of(sleepTask("duplicate", offer.getAgentId())), null)
        .get(60, TimeUnit.SECONDS);
    TaskStatus error = f.awaitUpdate("duplicate", TaskState.TASK_ERROR);
    assertThat(error.getReason()).isEqualTo(TaskStatus.Reason.REASON_TASK_INVALID);
    assertThat(error.getMessage())
        .contains("duplicate task ID: task 'duplicate' is a live task of framework");
    // The first one runs on where it was: the master says so, and so does a reconciliation.
    Task running = task(state(), f.client.frameworkId(), "duplicate").orElseThrow();
    assertThat(running.getState()).isEqualTo(TaskState.TASK_RUNNING);
    assertThat(running.getInfo().getAgentId()).isEqualTo(agent);
    int seen = f.updates.size();
    f.client.reconcile(List.of()).get(60, TimeUnit.SECONDS);
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                f.updates.subList(seen, f.updates.size()).stream()
                    .anyMatch(
                        u ->
                            u.getTaskId().equals("duplicate")
                                && u.getState() == TaskState.TASK_RUNNING
                                && u.getReason() == TaskStatus.Reason.REASON_RECONCILIATION));
  }

  @Test
  void anEmptyCommandEndsTaskError() throws Exception {
    Recorder f = framework("bad-input-empty-command");
    Offer offer = f.takeOffer();
    TaskInfo blank =
        sleepTask("empty-command", offer.getAgentId()).toBuilder()
            .setCommand(CommandInfo.newBuilder().setValue("  "))
            .build();
    TaskInfo none = sleepTask("no-command", offer.getAgentId()).toBuilder().clearCommand().build();
    f.client
        .launch(
            List.of(offer.getId()),
            List.of(blank, none),
            Filters.newBuilder().setRefuse(Durations.ZERO).build())
        .get(60, TimeUnit.SECONDS);
    for (String id : List.of("empty-command", "no-command")) {
      TaskStatus error = f.awaitUpdate(id, TaskState.TASK_ERROR);
      assertThat(error.getReason()).isEqualTo(TaskStatus.Reason.REASON_TASK_INVALID);
      assertThat(error.getMessage()).contains("task '" + id + "' has an empty command");
    }
    GetStateResponse state = state();
    assertThat(task(state, f.client.frameworkId(), "empty-command")).isEmpty();
    assertThat(task(state, f.client.frameworkId(), "no-command")).isEmpty();
    f.launchAndAwaitRunning("empty-command-good");
  }

  @Test
  void aTaskForAnAgentThatIsNotItsOffersEndsTaskError() throws Exception {
    Recorder f = framework("bad-input-unknown-agent");
    Offer offer = f.takeOffer();
    f.client
        .launch(
            List.of(offer.getId()),
            List.of(sleepTask("unknown-agent", "no-such-agent")),
            Filters.newBuilder().setRefuse(Durations.ZERO).build())
        .get(60, TimeUnit.SECONDS);
    TaskStatus error = f.awaitUpdate("unknown-agent", TaskState.TASK_ERROR);
    assertThat(error.getReason()).isEqualTo(TaskStatus.Reason.REASON_TASK_INVALID);
    assertThat(error.getMessage())
        .contains(
            "task 'unknown-agent' names agent 'no-such-agent' but its offers are of agent '"
                + offer.getAgentId()
                + "'");
    assertThat(task(state(), f.client.frameworkId(), "unknown-agent")).isEmpty();
    f.launchAndAwaitRunning("unknown-agent-good");
  }

  // ---- who calls
  // ---------------------------------------------------------------------------------

  @Test
  void aStreamIdOfAnotherFrameworkIsPermissionDenied() throws Exception {
    RawFramework a = raw("bad-input-stream-a");
    Offer offer = a.awaitOffer(); // before B subscribes, which might otherwise get every offer
    RawFramework b = raw("bad-input-stream-b");
    StatusRuntimeException accept =
        catchThrowableOfType(
            StatusRuntimeException.class,
            () ->
                a.calls()
                    .accept(
                        AcceptRequest.newBuilder()
                            .setFrameworkId(a.frameworkId)
                            .setStreamId(b.streamId)
                            .addOfferIds(offer.getId())
                            .addOperations(
                                Operation.newBuilder()
                                    .setLaunch(
                                        Operation.Launch.newBuilder()
                                            .addTasks(
                                                sleepTask("foreign-stream", offer.getAgentId()))))
                            .build()));
    assertThat(accept.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(accept.getStatus().getDescription())
        .isEqualTo(
            "stream '"
                + b.streamId
                + "' is not a subscription of framework '"
                + a.frameworkId
                + "'");
    StatusRuntimeException revive =
        catchThrowableOfType(
            StatusRuntimeException.class,
            () ->
                b.calls()
                    .revive(
                        ReviveRequest.newBuilder()
                            .setFrameworkId(b.frameworkId)
                            .setStreamId(a.streamId)
                            .build()));
    assertThat(revive.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(task(state(), a.frameworkId, "foreign-stream")).isEmpty();
    // The refused Accept left the offer A's: A itself may still use it.
    a.calls()
        .decline(
            DeclineRequest.newBuilder()
                .setFrameworkId(a.frameworkId)
                .setStreamId(a.streamId)
                .addOfferIds(offer.getId())
                .build());
  }

  @Test
  void noTokenOrAGarbageTokenIsUnauthenticated() throws Exception {
    String leader = leader();
    StatusRuntimeException none = subscribeRefusal(leader, null, "bad-input-no-token");
    assertThat(none.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(none.getStatus().getDescription())
        .contains("needs a ServiceAccount token: send metadata 'authorization: Bearer <token>'");

    Path garbage = Files.writeString(temp.resolve("garbage-token"), "not.a.token");
    StatusRuntimeException bad =
        subscribeRefusal(leader, BearerToken.read(garbage), "bad-input-garbage-token");
    assertThat(bad.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(bad.getStatus().getDescription()).contains("the bearer token was not accepted");

    // A unary call without a token is refused before anything else is looked at.
    ManagedChannel channel = Grpc.newChannelBuilder(leader, trust.channelCredentials()).build();
    try {
      StatusRuntimeException revive =
          catchThrowableOfType(
              StatusRuntimeException.class,
              () ->
                  SchedulerGrpc.newBlockingStub(channel)
                      .withDeadlineAfter(60, TimeUnit.SECONDS)
                      .revive(
                          ReviveRequest.newBuilder()
                              .setFrameworkId(bystander.client.frameworkId())
                              .setStreamId("whatever")
                              .build()));
      assertThat(revive.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    } finally {
      channel.shutdownNow();
    }
    assertThat(state().getFrameworksList())
        .noneMatch(f -> f.getInfo().getName().startsWith("bad-input-no-token"))
        .noneMatch(f -> f.getInfo().getName().startsWith("bad-input-garbage-token"));
  }

  @Test
  void aRoleTheAccountMayNotUseIsPermissionDeniedNamingTheRoleAndTheUser() throws Exception {
    // The raw call: the status itself.
    StatusRuntimeException raw =
        subscribeRefusal(
            leader(),
            BearerToken.read(token),
            FrameworkInfo.newBuilder().setName("bad-input-batch-raw").addRoles("batch").build());
    assertThat(raw.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(raw.getStatus().getDescription())
        .isEqualTo(
            USER + " may not use role 'batch' (needs verb 'use' on roles.kmesos.io 'batch')");
    // The client library: it stops for good and says why.
    List<String> errors = new CopyOnWriteArrayList<>();
    FrameworkClient client =
        FrameworkClient.start(
            FrameworkSettings.of(
                masters,
                FrameworkInfo.newBuilder().setName("bad-input-batch").addRoles("batch").build(),
                trust.channelCredentials(),
                token),
            new Scheduler() {
              @Override
              public void error(FrameworkClient c, String message) {
                errors.add(message);
              }
            });
    closeAfter.add(client);
    await().atMost(PATIENCE).until(() -> !errors.isEmpty());
    assertThat(errors.get(0))
        .startsWith("the master refused the subscription")
        .contains(USER + " may not use role 'batch'");
    assertThat(state().getFrameworksList())
        .noneMatch(f -> f.getInfo().getName().startsWith("bad-input-batch"));
  }

  // ---- the port itself
  // ---------------------------------------------------------------------------

  @Test
  void garbageBytesOrPlaintextHttp2OnTheMastersPortCloseTheConnectionAndTheMasterGoesOn()
      throws Exception {
    String leader = leader();
    byte[] random = new byte[64 * 1024];
    new Random(12).nextBytes(random);
    assertClosedAfter(leader, random);
    // What a gRPC client without TLS sends first: the HTTP/2 preface and an empty SETTINGS frame.
    byte[] preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    byte[] settings = {0, 0, 0, 4, 0, 0, 0, 0, 0};
    byte[] plaintext = new byte[preface.length + settings.length];
    System.arraycopy(preface, 0, plaintext, 0, preface.length);
    System.arraycopy(settings, 0, plaintext, preface.length, settings.length);
    assertClosedAfter(leader, plaintext);

    // The master still serves a real subscription, and launches.
    Recorder f = framework("bad-input-after-garbage");
    f.launchAndAwaitRunning("after-garbage");
  }

  /** Writes {@code bytes} to the port and expects the server to close the connection. */
  private static void assertClosedAfter(String address, byte[] bytes) throws IOException {
    int colon = address.lastIndexOf(':');
    try (Socket socket =
        new Socket(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)))) {
      socket.setSoTimeout((int) Duration.ofSeconds(60).toMillis());
      OutputStream out = socket.getOutputStream();
      try {
        out.write(bytes);
        out.flush();
      } catch (IOException closedWhileWriting) {
        return; // the server closed (reset) the connection before it read everything: fine
      }
      InputStream in = socket.getInputStream();
      byte[] buffer = new byte[8192];
      try {
        // A TLS alert may come first; then the end of the stream.
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (in.read(buffer) >= 0) {
          assertThat(System.nanoTime()).as("the connection is closed").isLessThan(deadline);
        }
      } catch (SocketTimeoutException e) {
        throw new AssertionError("the master kept the connection open after garbage", e);
      } catch (IOException reset) {
        // closed by a reset: fine
      }
    }
  }

  // ---- helpers
  // -----------------------------------------------------------------------------------

  private static TaskInfo sleepTask(String id, String agentId) {
    return TaskInfo.newBuilder()
        .setTaskId(id)
        .setName(id)
        .setAgentId(agentId)
        .addAllResources(ResourceProtos.write(Resources.parse(SLOT)))
        .setCommand(CommandInfo.newBuilder().setValue("sleep 600"))
        .build();
  }

  private static CallRefusedException refusal(CompletableFuture<Void> call)
      throws InterruptedException, TimeoutException {
    try {
      call.get(60, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      assertThat(e.getCause()).isInstanceOf(CallRefusedException.class);
      return (CallRefusedException) e.getCause();
    }
    throw new AssertionError("the call was taken");
  }

  private Recorder framework(String name) {
    Recorder r = new Recorder(name);
    closeAfter.add(r);
    await().atMost(PATIENCE).until(r.client::subscribed);
    return r;
  }

  private RawFramework raw(String name) throws InterruptedException {
    RawFramework r = RawFramework.subscribe(leader(), name);
    closeAfter.add(r);
    return r;
  }

  /** The leading master's address: where the bystander is subscribed. */
  private static String leader() {
    await().atMost(PATIENCE).until(() -> bystander.client.masterAddress() != null);
    return bystander.client.masterAddress();
  }

  private static StatusRuntimeException subscribeRefusal(
      String address, CallCredentials credentials, String name) {
    return subscribeRefusal(
        address, credentials, FrameworkInfo.newBuilder().setName(name).addRoles(ROLE).build());
  }

  private static StatusRuntimeException subscribeRefusal(
      String address, CallCredentials credentials, FrameworkInfo info) {
    ManagedChannel channel = Grpc.newChannelBuilder(address, trust.channelCredentials()).build();
    try {
      SchedulerGrpc.SchedulerBlockingStub stub =
          SchedulerGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
      if (credentials != null) {
        stub = stub.withCallCredentials(credentials);
      }
      SchedulerGrpc.SchedulerBlockingStub s = stub;
      return catchThrowableOfType(
          StatusRuntimeException.class,
          () -> {
            Iterator<Event> events =
                s.subscribe(SubscribeRequest.newBuilder().setFrameworkInfo(info).build());
            Event first = events.next();
            throw new AssertionError("subscribed: " + first);
          });
    } finally {
      channel.shutdownNow();
    }
  }

  /** The master's state, as an operator reads it (the admin certificate of kmesos-local). */
  static GetStateResponse state() {
    List<String> failures = new ArrayList<>();
    for (int round = 0; round < 20; round++) {
      for (String address : masters) {
        ManagedChannel channel =
            Grpc.newChannelBuilder(address, admin.channelCredentials(Identity.CONTROLLER)).build();
        try {
          return OperatorGrpc.newBlockingStub(channel)
              .withDeadlineAfter(30, TimeUnit.SECONDS)
              .getState(GetStateRequest.getDefaultInstance());
        } catch (StatusRuntimeException e) {
          failures.add(address + ": " + e.getStatus());
        } finally {
          channel.shutdownNow();
        }
      }
    }
    throw new AssertionError("no master answered GetState: " + failures);
  }

  private static Optional<Task> task(GetStateResponse state, String frameworkId, String taskId) {
    return state.getTasksList().stream()
        .filter(t -> t.getFrameworkId().equals(frameworkId))
        .filter(t -> t.getInfo().getTaskId().equals(taskId))
        .findFirst();
  }

  /** A framework on the client library that keeps its offers and every update, in order. */
  static final class Recorder implements Scheduler, AutoCloseable {
    final Map<String, Offer> offers = new ConcurrentHashMap<>();
    final List<TaskStatus> updates = new CopyOnWriteArrayList<>();
    final FrameworkClient client;

    Recorder(String name) {
      client =
          FrameworkClient.start(
              FrameworkSettings.of(
                  masters,
                  FrameworkInfo.newBuilder().setName(name).addRoles(ROLE).build(),
                  trust.channelCredentials(),
                  token),
              this);
    }

    @Override
    public void offers(FrameworkClient c, List<Offer> list) {
      list.forEach(o -> offers.put(o.getId(), o));
    }

    @Override
    public void rescind(FrameworkClient c, String offerId) {
      offers.remove(offerId);
    }

    @Override
    public void update(FrameworkClient c, TaskStatus status) {
      updates.add(status);
    }

    /** An offer with room for a task of {@link #SLOT}, now the test's to use. */
    Offer takeOffer() {
      Resources slot = Resources.parse(SLOT);
      return await()
          .atMost(PATIENCE)
          .until(
              () -> {
                for (Offer o : offers.values()) {
                  if (ResourceProtos.read(o.getResourcesList()).contains(slot)
                      && offers.remove(o.getId()) != null) {
                    return o;
                  }
                }
                return null;
              },
              o -> o != null);
    }

    TaskStatus awaitUpdate(String taskId, TaskState state) {
      Predicate<TaskStatus> match = u -> u.getTaskId().equals(taskId) && u.getState() == state;
      return await()
          .atMost(PATIENCE)
          .until(
              () -> updates.stream().filter(match).findFirst().orElse(null),
              u -> {
                if (u == null) {
                  // A terminal update of another kind would never turn into this one.
                  assertThat(updates)
                      .filteredOn(s -> s.getTaskId().equals(taskId))
                      .noneMatch(
                          s ->
                              s.getState() != state
                                  && s.getState() != TaskState.TASK_STAGING
                                  && s.getState() != TaskState.TASK_STARTING
                                  && s.getState() != TaskState.TASK_RUNNING
                                  && s.getState() != TaskState.TASK_ERROR);
                }
                return u != null;
              });
    }

    /** A good launch: it runs. Returns its agent. */
    String launchAndAwaitRunning(String taskId) throws Exception {
      Offer offer = takeOffer();
      client
          .launch(
              List.of(offer.getId()),
              List.of(sleepTask(taskId, offer.getAgentId())),
              Filters.newBuilder().setRefuse(Durations.ZERO).build())
          .get(60, TimeUnit.SECONDS);
      awaitUpdate(taskId, TaskState.TASK_RUNNING);
      return offer.getAgentId();
    }

    /** Tears the framework down (its tasks end) and closes the client. */
    @Override
    public void close() throws Exception {
      try {
        if (client.subscribed()) {
          client.teardown().get(60, TimeUnit.SECONDS);
        }
      } finally {
        client.close();
      }
    }
  }

  /**
   * A framework on raw Scheduler stubs, for calls the client library cannot make (a stream ID of
   * its choosing): one subscription to one master, its events in a queue.
   */
  static final class RawFramework implements AutoCloseable {
    final ManagedChannel channel;
    final BearerToken credentials;
    final BlockingQueue<Object> events = new LinkedBlockingQueue<>();
    volatile ClientCallStreamObserver<SubscribeRequest> call;
    String frameworkId;
    String streamId;

    private RawFramework(String address) {
      channel = Grpc.newChannelBuilder(address, trust.channelCredentials()).build();
      credentials = BearerToken.read(token);
    }

    static RawFramework subscribe(String address, String name) throws InterruptedException {
      RawFramework r = new RawFramework(address);
      SchedulerGrpc.newStub(r.channel)
          .withCallCredentials(r.credentials)
          .subscribe(
              SubscribeRequest.newBuilder()
                  .setFrameworkInfo(FrameworkInfo.newBuilder().setName(name).addRoles(ROLE))
                  .build(),
              new ClientResponseObserver<SubscribeRequest, Event>() {
                @Override
                public void beforeStart(ClientCallStreamObserver<SubscribeRequest> c) {
                  r.call = c;
                }

                @Override
                public void onNext(Event event) {
                  r.events.add(event);
                }

                @Override
                public void onError(Throwable t) {
                  r.events.add(t);
                }

                @Override
                public void onCompleted() {
                  r.events.add("completed");
                }
              });
      Object first = r.events.poll(PATIENCE.toSeconds(), TimeUnit.SECONDS);
      assertThat(first).as("the first event of a subscription").isInstanceOf(Event.class);
      Event.Subscribed subscribed = ((Event) first).getSubscribed();
      assertThat(subscribed.getStreamId()).isNotEmpty();
      r.frameworkId = subscribed.getFrameworkId();
      r.streamId = subscribed.getStreamId();
      return r;
    }

    SchedulerGrpc.SchedulerBlockingStub calls() {
      return SchedulerGrpc.newBlockingStub(channel)
          .withCallCredentials(credentials)
          .withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    Offer awaitOffer() throws InterruptedException {
      long deadline = System.nanoTime() + PATIENCE.toNanos();
      while (System.nanoTime() < deadline) {
        Object next = events.poll(5, TimeUnit.SECONDS);
        if (next instanceof Event e && e.hasOffers() && e.getOffers().getOffersCount() > 0) {
          return e.getOffers().getOffers(0);
        }
        assertThat(next).as("the subscription goes on").isNotInstanceOf(Throwable.class);
      }
      throw new AssertionError("no offer within " + PATIENCE);
    }

    @Override
    public void close() {
      try {
        calls()
            .teardown(
                TeardownRequest.newBuilder()
                    .setFrameworkId(frameworkId)
                    .setStreamId(streamId)
                    .build());
      } finally {
        if (call != null) {
          call.cancel("the test is done", null);
        }
        channel.shutdownNow();
      }
    }
  }
}
