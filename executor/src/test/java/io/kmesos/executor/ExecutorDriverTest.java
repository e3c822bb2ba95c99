package io.kmesos.executor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.util.Durations;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.stub.StreamObserver;
import io.kmesos.api.executor.v1.Call;
import io.kmesos.api.executor.v1.Event;
import io.kmesos.api.executor.v1.ExecutorGrpc;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The driver against a scripted agent on a real Unix socket. */
class ExecutorDriverTest {
  static final Duration PATIENCE = Duration.ofSeconds(60);

  @TempDir Path dir;

  /** A scripted agent: records calls and headers, keeps each connection's event stream. */
  final List<Call> calls = new CopyOnWriteArrayList<>();

  final List<String> tokens = new CopyOnWriteArrayList<>();
  final List<StreamObserver<Event>> streams = new CopyOnWriteArrayList<>();
  volatile Status refuseWith;
  Server server;
  EventLoopGroup group;
  ExecutorDriver driver;

  final List<String> seen = new CopyOnWriteArrayList<>();
  final ExecutorDriver.Handler handler =
      new ExecutorDriver.Handler() {
        @Override
        public void subscribed(Event.Subscribed subscribed, boolean resubscribed) {
          seen.add(resubscribed ? "resubscribed" : "subscribed");
        }

        @Override
        public void launch(TaskInfo task) {
          seen.add("launch " + task.getTaskId());
          driver.update(
              TaskStatus.newBuilder()
                  .setTaskId(task.getTaskId())
                  .setState(TaskState.TASK_RUNNING)
                  .build());
        }

        @Override
        public void kill(String taskId, Duration grace) {
          seen.add("kill " + taskId + " " + grace.toSeconds());
        }

        @Override
        public void shutdown(Duration grace) {
          seen.add("shutdown " + grace.toSeconds());
        }
      };

  Path socket() {
    return dir.resolve("agent.sock");
  }

  void startAgent() throws Exception {
    group = new EpollEventLoopGroup(1);
    ServerInterceptor headers =
        new ServerInterceptor() {
          @Override
          public <Q, A> ServerCall.Listener<Q> interceptCall(
              ServerCall<Q, A> call, Metadata h, ServerCallHandler<Q, A> next) {
            tokens.add(h.get(ExecutorDriver.TOKEN));
            if (refuseWith != null) {
              call.close(refuseWith, new Metadata());
              return new ServerCall.Listener<>() {};
            }
            return next.startCall(call, h);
          }
        };
    server =
        NettyServerBuilder.forAddress(new DomainSocketAddress(socket().toString()))
            .channelType(EpollServerDomainSocketChannel.class)
            .bossEventLoopGroup(group)
            .workerEventLoopGroup(group)
            .addService(
                ServerInterceptors.intercept(
                    new ExecutorGrpc.ExecutorImplBase() {
                      @Override
                      public StreamObserver<Call> connect(StreamObserver<Event> events) {
                        streams.add(events);
                        return new StreamObserver<>() {
                          @Override
                          public void onNext(Call c) {
                            calls.add(c);
                            if (c.hasSubscribe()) {
                              events.onNext(
                                  Event.newBuilder()
                                      .setSubscribed(
                                          Event.Subscribed.newBuilder().setAgentId("agent-1"))
                                      .build());
                            }
                          }

                          @Override
                          public void onError(Throwable t) {}

                          @Override
                          public void onCompleted() {}
                        };
                      }
                    },
                    headers))
            .build()
            .start();
  }

  void stopAgent() throws Exception {
    server.shutdownNow();
    server.awaitTermination(10, TimeUnit.SECONDS);
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
  }

  @AfterEach
  void close() throws Exception {
    if (driver != null) {
      driver.close();
    }
    if (server != null) {
      stopAgent();
    }
  }

  ExecutorDriver start(boolean checkpoint, Duration recoveryTimeout) {
    driver =
        new ExecutorDriver(
            new ExecutorSettings(
                socket(), "t0k3n", "fw", "ex", "agent-1", dir, checkpoint, recoveryTimeout),
            handler);
    return driver.start();
  }

  List<Call> subscriptions() {
    return calls.stream().filter(Call::hasSubscribe).toList();
  }

  static Event launch(String taskId) {
    return Event.newBuilder()
        .setLaunch(Event.Launch.newBuilder().setTask(TaskInfo.newBuilder().setTaskId(taskId)))
        .build();
  }

  @Test
  void subscribesWithItsTokenAndKeepsUpdatesUntilAcknowledged() throws Exception {
    startAgent();
    start(true, Duration.ofMinutes(1));
    await().atMost(PATIENCE).until(() -> seen.contains("subscribed"));
    assertThat(tokens).containsOnly("t0k3n");
    Call subscribe = subscriptions().get(0);
    assertThat(subscribe.getFrameworkId()).isEqualTo("fw");
    assertThat(subscribe.getExecutorId()).isEqualTo("ex");
    assertThat(subscribe.getSubscribe().getUnacknowledgedUpdatesList()).isEmpty();

    streams.get(0).onNext(launch("t1"));
    streams.get(0).onNext(launch("t2"));
    await().atMost(PATIENCE).until(() -> calls.stream().filter(Call::hasUpdate).count() == 2);
    TaskStatus t1 =
        calls.stream().filter(Call::hasUpdate).findFirst().orElseThrow().getUpdate().getStatus();
    assertThat(t1.getUuid().size()).isEqualTo(16);
    assertThat(t1.getFrameworkId()).isEqualTo("fw");
    assertThat(t1.hasTimestamp()).isTrue();
    streams
        .get(0)
        .onNext(
            Event.newBuilder()
                .setAcknowledged(
                    Event.Acknowledged.newBuilder().setTaskId("t1").setUuid(t1.getUuid()))
                .build());
    streams
        .get(0)
        .onNext(
            Event.newBuilder()
                .setKill(
                    Event.Kill.newBuilder()
                        .setTaskId("t2")
                        .setGracePeriod(Durations.fromSeconds(4)))
                .build());
    await().atMost(PATIENCE).until(() -> seen.contains("kill t2 4"));

    // The stream breaks (the agent restarts): the executor of a checkpointing framework comes
    // back and lists what the agent may have missed: t2's update and t2, not t1's.
    streams.get(0).onError(Status.UNAVAILABLE.asRuntimeException());
    await().atMost(PATIENCE).until(() -> seen.contains("resubscribed"));
    Call again = subscriptions().get(1);
    assertThat(again.getSubscribe().getUnacknowledgedUpdatesList())
        .extracting(TaskStatus::getTaskId)
        .containsExactly("t2");
    assertThat(again.getSubscribe().getUnacknowledgedTasksList())
        .extracting(TaskInfo::getTaskId)
        .containsExactly("t2");
    assertThat(driver.terminated()).isNotDone();

    // SHUTDOWN: the handler ends its tasks, the executor is to exit.
    streams
        .get(1)
        .onNext(
            Event.newBuilder()
                .setShutdown(Event.Shutdown.newBuilder().setGracePeriod(Durations.fromSeconds(2)))
                .build());
    ExecutorDriver.Termination end = driver.terminated().get(60, TimeUnit.SECONDS);
    assertThat(end.shutDownByAgent()).isTrue();
    assertThat(seen).contains("shutdown 2");
  }

  @Test
  void withoutCheckpointingItStopsWhenItsAgentGoes() throws Exception {
    startAgent();
    start(false, Duration.ofMinutes(1));
    await().atMost(PATIENCE).until(() -> seen.contains("subscribed"));
    streams.get(0).onError(Status.UNAVAILABLE.asRuntimeException());
    ExecutorDriver.Termination end = driver.terminated().get(60, TimeUnit.SECONDS);
    assertThat(end.shutDownByAgent()).isFalse();
    assertThat(end.reason()).contains("the framework does not checkpoint");
    assertThat(seen).contains("shutdown 0");
    assertThat(subscriptions()).hasSize(1);
  }

  @Test
  void itGivesUpOnAnAgentThatDoesNotComeBackWithinTheRecoveryTimeout() throws Exception {
    startAgent();
    start(true, Duration.ofSeconds(2));
    await().atMost(PATIENCE).until(() -> seen.contains("subscribed"));
    stopAgent();
    server = null;
    ExecutorDriver.Termination end = driver.terminated().get(60, TimeUnit.SECONDS);
    assertThat(end.shutDownByAgent()).isFalse();
    assertThat(end.reason())
        .isEqualTo("the agent did not come back within the recovery timeout (PT2S)");
    assertThat(seen).contains("shutdown 0");
  }

  @Test
  void anAgentThatDoesNotKnowItsTokenEndsItAtOnce() throws Exception {
    refuseWith = Status.UNAUTHENTICATED.withDescription("no valid kmesos-executor-token");
    startAgent();
    start(true, Duration.ofMinutes(10));
    ExecutorDriver.Termination end = driver.terminated().get(60, TimeUnit.SECONDS);
    assertThat(end.reason())
        .isEqualTo(
            "the agent refused this executor: UNAUTHENTICATED no valid kmesos-executor-token");
  }
}
