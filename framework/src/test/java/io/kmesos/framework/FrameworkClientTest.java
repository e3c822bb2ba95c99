package io.kmesos.framework;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.kmesos.api.scheduler.v1.AcknowledgeRequest;
import io.kmesos.api.scheduler.v1.Event;
import io.kmesos.api.scheduler.v1.ReconcileRequest;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.MasterInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The framework client against a fake master (real gRPC and TLS on 127.0.0.1): subscription,
 * resubscription with the same ID, leader hints, the heartbeat watchdog, acknowledgements,
 * reconciliation and the token file.
 */
class FrameworkClientTest {
  static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dir;
  TestTls tls;
  Path tokenFile;
  final Recorder recorder = new Recorder();
  FrameworkClient client;

  /** What the scheduler was told, one line per callback, in order. */
  static final class Recorder implements Scheduler {
    final List<String> log = new CopyOnWriteArrayList<>();
    final List<String> threads = new CopyOnWriteArrayList<>();

    @Override
    public void subscribed(
        FrameworkClient c, String frameworkId, MasterInfo master, boolean resubscribed) {
      threads.add(Thread.currentThread().getName());
      log.add("subscribed " + frameworkId + (resubscribed ? " again" : ""));
    }

    @Override
    public void update(FrameworkClient c, TaskStatus status) {
      threads.add(Thread.currentThread().getName());
      log.add("update " + status.getTaskId() + " " + status.getState());
    }

    @Override
    public void disconnected(FrameworkClient c, String reason) {
      log.add("disconnected: " + reason);
    }

    @Override
    public void error(FrameworkClient c, String message) {
      log.add("error: " + message);
    }
  }

  @BeforeEach
  void setUp() throws Exception {
    tls = new TestTls(dir);
    tokenFile = Files.writeString(dir.resolve("token"), "token-1\n");
  }

  @AfterEach
  void tearDown() {
    if (client != null) {
      client.close();
    }
    tls.trust.close();
  }

  FrameworkSettings settings(String... masters) {
    return FrameworkSettings.of(
            List.of(masters),
            FrameworkInfo.newBuilder().setName("test").addRoles("web").build(),
            tls.trust.channelCredentials(),
            tokenFile)
        .withTimeouts(2, Duration.ofSeconds(10), Duration.ofSeconds(10));
  }

  @Test
  void resubscribesWithTheAssignedIdAfterTheStreamBreaksAndReconcilesEachTime() throws Exception {
    try (FakeMaster master = tls.master()) {
      client = FrameworkClient.start(settings(master.address()), recorder);
      await().atMost(WAIT).until(() -> recorder.log.contains("subscribed fw-1"));
      assertThat(master.subscribes.get(0).getFrameworkInfo().getId()).isEmpty();
      assertThat(client.frameworkId()).isEqualTo("fw-1");
      await().atMost(WAIT).until(() -> master.received(ReconcileRequest.class).size(), n -> n >= 1);

      master.breakStream();

      await().atMost(WAIT).until(() -> recorder.log.contains("subscribed fw-1 again"));
      assertThat(master.subscribes).hasSize(2);
      assertThat(master.subscribes.get(1).getFrameworkInfo().getId()).isEqualTo("fw-1");
      assertThat(master.subscribes.get(1).getFrameworkInfo().getName()).isEqualTo("test");
      assertThat(recorder.log.get(1)).startsWith("disconnected: ").contains("master going away");
      // The implicit reconciliation after the resubscription, under the new stream.
      await()
          .atMost(WAIT)
          .untilAsserted(
              () ->
                  assertThat(master.received(ReconcileRequest.class))
                      .anySatisfy(
                          r -> {
                            assertThat(r.getFrameworkId()).isEqualTo("fw-1");
                            assertThat(r.getStreamId()).isEqualTo(FakeMaster.streamId(2));
                            assertThat(r.getTasksList()).isEmpty();
                          }));
    }
  }

  @Test
  void followsTheLeaderAStandbyNames() throws Exception {
    try (FakeMaster leader = tls.master();
        FakeMaster standby = tls.master()) {
      standby.leaderHint = leader.address();
      client = FrameworkClient.start(settings(standby.address()), recorder);
      await().atMost(WAIT).until(() -> recorder.log.contains("subscribed fw-1"));
      assertThat(standby.subscribes).isNotEmpty();
      assertThat(leader.subscribes).hasSize(1);
      assertThat(client.masterAddress()).isEqualTo(leader.address());
    }
  }

  @Test
  void silenceForSeveralHeartbeatsMeansDisconnected() throws Exception {
    try (FakeMaster master = tls.master()) {
      master.heartbeat = Duration.ofMillis(200); // and it never sends one
      client = FrameworkClient.start(settings(master.address()), recorder);
      await().atMost(WAIT).until(() -> master.subscribes.size() >= 2);
      assertThat(master.subscribes.get(1).getFrameworkInfo().getId()).isEqualTo("fw-1");
      await()
          .atMost(WAIT)
          .untilAsserted(
              () ->
                  assertThat(recorder.log)
                      .anySatisfy(l -> assertThat(l).contains("missed heartbeats")));
    }
  }

  @Test
  void heartbeatsKeepTheSubscription() throws Exception {
    try (FakeMaster master = tls.master()) {
      // Silence allowed: 2 intervals of 2 s; heartbeats every 200 ms for longer than that.
      master.heartbeat = Duration.ofSeconds(2);
      client = FrameworkClient.start(settings(master.address()), recorder);
      await().atMost(WAIT).until(client::subscribed);
      for (int i = 0; i < 30; i++) {
        master.send(Event.newBuilder().setHeartbeat(Event.Heartbeat.getDefaultInstance()).build());
        Thread.sleep(200);
      }
      assertThat(master.subscribes).hasSize(1);
    }
  }

  @Test
  void acknowledgesUpdatesThatCarryAUuidAfterTheCallback() throws Exception {
    try (FakeMaster master = tls.master()) {
      client = FrameworkClient.start(settings(master.address()), recorder);
      await().atMost(WAIT).until(client::subscribed);
      ByteString uuid =
          ByteString.copyFrom(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
      master.send(update("reconciled", TaskState.TASK_RUNNING, ByteString.EMPTY));
      master.send(update("t1", TaskState.TASK_FINISHED, uuid));
      await()
          .atMost(WAIT)
          .until(() -> master.received(AcknowledgeRequest.class).size(), n -> n >= 1);
      Thread.sleep(200); // an acknowledgement of the update without uuid would have come by now
      assertThat(master.received(AcknowledgeRequest.class))
          .singleElement()
          .satisfies(
              a -> {
                assertThat(a.getUuid()).isEqualTo(uuid);
                assertThat(a.getTaskId()).isEqualTo("t1");
                assertThat(a.getAgentId()).isEqualTo("agent-1");
                assertThat(a.getFrameworkId()).isEqualTo("fw-1");
                assertThat(a.getStreamId()).isEqualTo(FakeMaster.streamId(1));
              });
      assertThat(recorder.log)
          .containsSubsequence("update reconciled TASK_RUNNING", "update t1 TASK_FINISHED");
      assertThat(recorder.threads).containsOnly("framework-events");
    }
  }

  @Test
  void readsTheTokenFileAgainOnEveryConnection() throws Exception {
    try (FakeMaster master = tls.master()) {
      client = FrameworkClient.start(settings(master.address()), recorder);
      await().atMost(WAIT).until(client::subscribed);
      assertThat(master.subscribeTokens).containsExactly("Bearer token-1");
      Files.writeString(tokenFile, "token-2");
      master.breakStream();
      await().atMost(WAIT).until(() -> master.subscribes.size() == 2 && client.subscribed());
      assertThat(master.subscribeTokens).containsExactly("Bearer token-1", "Bearer token-2");
      client.suppress(List.of()).get(30, TimeUnit.SECONDS);
      assertThat(master.calls.get(master.calls.size() - 1).authorization())
          .isEqualTo("Bearer token-2");
    }
  }

  @Test
  void aRefusedSubscriptionIsAnErrorAndStopsTheClient() throws Exception {
    try (FakeMaster master = tls.master()) {
      master.refuse =
          Status.PERMISSION_DENIED.withDescription("framework fw-9 belongs to another principal");
      client = FrameworkClient.start(settings(master.address()), recorder);
      client.stopped().get(30, TimeUnit.SECONDS);
      assertThat(recorder.log)
          .singleElement()
          .satisfies(
              l ->
                  assertThat(l)
                      .startsWith("error: the master refused the subscription: ")
                      .contains("framework fw-9 belongs to another principal"));
      assertThat(master.subscribes).hasSize(1);
    }
  }

  @Test
  void aStaleStreamIdRefusalMakesTheClientSubscribeAgain() throws Exception {
    try (FakeMaster master = tls.master()) {
      client = FrameworkClient.start(settings(master.address()), recorder);
      await().atMost(WAIT).until(client::subscribed);
      await().atMost(WAIT).until(() -> master.received(ReconcileRequest.class).size(), n -> n >= 1);
      master.callRefusal =
          Status.FAILED_PRECONDITION.withDescription("stream-1 is not the current subscription");
      try {
        client.suppress(List.of("web")).get(30, TimeUnit.SECONDS);
        throw new AssertionError("Suppress succeeded");
      } catch (ExecutionException e) {
        assertThat(e.getCause())
            .isInstanceOf(CallRefusedException.class)
            .hasMessage(
                "Suppress refused: FAILED_PRECONDITION: stream-1 is not the current subscription");
        assertThat(((CallRefusedException) e.getCause()).status().getCode())
            .isEqualTo(Status.Code.FAILED_PRECONDITION);
      }
      master.callRefusal = null;
      await().atMost(WAIT).until(() -> recorder.log.contains("subscribed fw-1 again"));
      assertThat(master.subscribes.get(1).getFrameworkInfo().getId()).isEqualTo("fw-1");
    }
  }

  @Test
  void explicitAcknowledgementsAreLeftToTheFramework() throws Exception {
    try (FakeMaster master = tls.master()) {
      ByteString uuid = ByteString.copyFromUtf8("0123456789abcdef");
      Scheduler explicit =
          new Scheduler() {
            @Override
            public void update(FrameworkClient c, TaskStatus status) {
              recorder.log.add("update " + status.getTaskId());
            }
          };
      client =
          FrameworkClient.start(
              settings(master.address()).withExplicitAcknowledgements(true), explicit);
      await().atMost(WAIT).until(client::subscribed);
      master.send(update("t1", TaskState.TASK_RUNNING, uuid));
      await().atMost(WAIT).until(() -> recorder.log.contains("update t1"));
      Thread.sleep(200);
      assertThat(master.received(AcknowledgeRequest.class)).isEmpty();
      client
          .acknowledge(
              TaskStatus.newBuilder().setTaskId("t1").setAgentId("agent-1").setUuid(uuid).build())
          .get(30, TimeUnit.SECONDS);
      assertThat(master.received(AcknowledgeRequest.class))
          .singleElement()
          .satisfies(a -> assertThat(a.getUuid()).isEqualTo(uuid));
    }
  }

  @Test
  void callsWithoutASubscriptionFailClearly() throws Exception {
    client = FrameworkClient.start(settings("127.0.0.1:1"), recorder); // nothing listens there
    try {
      client.revive(List.of()).get(30, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      assertThat(e.getCause())
          .isInstanceOf(CallRefusedException.class)
          .hasMessageStartingWith("Revive refused: FAILED_PRECONDITION: not subscribed");
      return;
    }
    throw new AssertionError("Revive succeeded without a subscription");
  }

  static Event update(String task, TaskState state, ByteString uuid) {
    return Event.newBuilder()
        .setUpdate(
            Event.Update.newBuilder()
                .setStatus(
                    TaskStatus.newBuilder()
                        .setTaskId(task)
                        .setAgentId("agent-1")
                        .setFrameworkId("fw-1")
                        .setState(state)
                        .setUuid(uuid)))
        .build();
  }
}
