package io.kmesos.executor;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.Durations;
import com.google.protobuf.util.Timestamps;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.kmesos.api.executor.v1.Call;
import io.kmesos.api.executor.v1.Event;
import io.kmesos.api.executor.v1.ExecutorGrpc;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskStatus;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An executor's connection to its agent (the executor API, {@code kmesos/executor/v1}): subscribes,
 * hands the agent's events to a {@link Handler}, sends the executor's status updates and keeps each
 * until the agent says the framework acknowledged it.
 *
 * <p>When the stream breaks (the agent stopped or restarted): an executor of a framework without
 * checkpointing stops at once, as in Mesos (no agent would recover it); one of a checkpointing
 * framework connects again every {@link #RETRY} and re-subscribes with its unacknowledged updates
 * and tasks, and stops once its agent has not come back within the recovery timeout. Stopping this
 * way calls {@link Handler#shutdown} (the executor's tasks must end with it) and completes {@link
 * #terminated()} with a reason.
 *
 * <p>Every callback runs on the driver's one thread, in order.
 */
public final class ExecutorDriver implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ExecutorDriver.class);
  static final Metadata.Key<String> TOKEN =
      Metadata.Key.of("kmesos-executor-token", Metadata.ASCII_STRING_MARSHALLER);

  /** Between attempts to reach an agent that went away. */
  public static final Duration RETRY = Duration.ofMillis(500);

  /** What the agent asks of the executor. */
  public interface Handler {
    /** Subscribed (again, with {@code resubscribed}) to the agent. */
    default void subscribed(Event.Subscribed subscribed, boolean resubscribed) {}

    /** Run this task; send its updates with {@link ExecutorDriver#update}. */
    void launch(TaskInfo task);

    /** Kill this task within {@code grace} and send TASK_KILLED. */
    void kill(String taskId, Duration grace);

    /**
     * Kill every task within {@code grace}: the executor stops (the agent shut it down, or the
     * agent did not come back). Returns when its tasks are gone.
     */
    void shutdown(Duration grace);

    /** The agent refused a call (a bad update). */
    default void error(String message) {}
  }

  /** How the executor ended. */
  public record Termination(boolean shutDownByAgent, String reason) {}

  private final ExecutorSettings settings;
  private final Handler handler;
  private final ScheduledExecutorService thread;
  private final EventLoopGroup group;
  private final CompletableFuture<Termination> terminated = new CompletableFuture<>();

  /** Updates not yet acknowledged, by uuid (in the order sent). */
  private final Map<ByteString, TaskStatus> unacknowledged = new LinkedHashMap<>();

  /** Tasks launched with no acknowledged update yet. */
  private final Map<String, TaskInfo> unacknowledgedTasks = new LinkedHashMap<>();

  private ManagedChannel channel;
  private StreamObserver<Call> calls;

  /** Since when the agent is unreachable; 0 while connected. */
  private long lostSince;

  private boolean everSubscribed;
  private int attempt;

  public ExecutorDriver(ExecutorSettings settings, Handler handler) {
    this.settings = settings;
    this.handler = handler;
    this.thread =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "executor-driver");
              t.setDaemon(true);
              return t;
            });
    this.group =
        new EpollEventLoopGroup(
            1,
            r -> {
              Thread t = new Thread(r, "executor-grpc");
              t.setDaemon(true);
              return t;
            });
  }

  /** Connects and subscribes (asynchronously). */
  public ExecutorDriver start() {
    thread.execute(this::connect);
    return this;
  }

  /** Completes when the executor is to exit. */
  public CompletableFuture<Termination> terminated() {
    return terminated;
  }

  /**
   * Sends a status update of one of the executor's tasks; it gets a uuid if it has none. Kept and
   * sent again on re-subscription until acknowledged.
   */
  public void update(TaskStatus status) {
    TaskStatus.Builder b = status.toBuilder();
    if (status.getUuid().size() != 16) {
      UUID u = UUID.randomUUID();
      ByteBuffer bytes = ByteBuffer.allocate(16);
      bytes.putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits());
      b.setUuid(ByteString.copyFrom(bytes.array()));
    }
    if (!status.hasTimestamp()) {
      b.setTimestamp(Timestamps.fromMillis(System.currentTimeMillis()));
    }
    b.setFrameworkId(settings.frameworkId());
    TaskStatus update = b.build();
    thread.execute(
        () -> {
          unacknowledged.put(update.getUuid(), update);
          send(call().setUpdate(Call.Update.newBuilder().setStatus(update)).build());
        });
  }

  private Call.Builder call() {
    return Call.newBuilder()
        .setFrameworkId(settings.frameworkId())
        .setExecutorId(settings.executorId());
  }

  private void send(Call call) {
    if (calls == null) {
      return; // re-sent with the next subscription
    }
    try {
      calls.onNext(call);
    } catch (RuntimeException e) {
      LOG.debug("cannot send a call: {}", e.toString());
    }
  }

  private void connect() {
    if (terminated.isDone()) {
      return;
    }
    attempt++;
    if (channel != null) {
      channel.shutdownNow();
    }
    channel =
        NettyChannelBuilder.forAddress(new DomainSocketAddress(settings.socket().toString()))
            .channelType(EpollDomainSocketChannel.class)
            .eventLoopGroup(group)
            .usePlaintext()
            .build();
    Metadata headers = new Metadata();
    headers.put(TOKEN, settings.token());
    int mine = attempt;
    StreamObserver<Call> stream =
        ExecutorGrpc.newStub(channel)
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
            .connect(
                new StreamObserver<>() {
                  @Override
                  public void onNext(Event e) {
                    thread.execute(() -> event(mine, e));
                  }

                  @Override
                  public void onError(Throwable t) {
                    Status status = Status.fromThrowable(t);
                    if (status.getCode() == Status.Code.UNAUTHENTICATED
                        || status.getCode() == Status.Code.PERMISSION_DENIED) {
                      // An agent that does not know this executor (one restarted without it):
                      // no point in waiting for it.
                      thread.execute(
                          () ->
                              refused(
                                  mine,
                                  "the agent refused this executor: "
                                      + status.getCode()
                                      + " "
                                      + status.getDescription()));
                      return;
                    }
                    thread.execute(() -> broken(mine, t.toString()));
                  }

                  @Override
                  public void onCompleted() {
                    thread.execute(() -> broken(mine, "the agent ended the stream"));
                  }
                });
    calls = stream;
    Call.Subscribe.Builder s = Call.Subscribe.newBuilder();
    s.addAllUnacknowledgedUpdates(unacknowledged.values());
    s.addAllUnacknowledgedTasks(unacknowledgedTasks.values());
    stream.onNext(call().setSubscribe(s).build());
  }

  private void event(int from, Event e) {
    if (from != attempt || terminated.isDone()) {
      return;
    }
    switch (e.getEventCase()) {
      case SUBSCRIBED -> {
        boolean again = everSubscribed;
        everSubscribed = true;
        lostSince = 0;
        LOG.info(
            "executor {} of framework {}: {} to agent {}",
            settings.executorId(),
            settings.frameworkId(),
            again ? "re-subscribed" : "subscribed",
            e.getSubscribed().getAgentId());
        handler.subscribed(e.getSubscribed(), again);
      }
      case LAUNCH -> {
        TaskInfo task = e.getLaunch().getTask();
        unacknowledgedTasks.put(task.getTaskId(), task);
        handler.launch(task);
      }
      case KILL ->
          handler.kill(
              e.getKill().getTaskId(),
              Duration.ofNanos(Durations.toNanos(e.getKill().getGracePeriod())));
      case ACKNOWLEDGED -> {
        TaskStatus acked = unacknowledged.remove(e.getAcknowledged().getUuid());
        LOG.info(
            "executor {}: the framework acknowledged {} of task {}",
            settings.executorId(),
            acked == null ? "an update" : acked.getState(),
            e.getAcknowledged().getTaskId());
        unacknowledgedTasks.remove(e.getAcknowledged().getTaskId());
      }
      case SHUTDOWN -> {
        Duration grace = Duration.ofNanos(Durations.toNanos(e.getShutdown().getGracePeriod()));
        LOG.info("executor {}: the agent shuts it down (grace {})", settings.executorId(), grace);
        stop(true, "shut down by the agent", grace);
      }
      case ERROR -> {
        LOG.warn(
            "executor {}: the agent says: {}", settings.executorId(), e.getError().getMessage());
        handler.error(e.getError().getMessage());
      }
      default -> LOG.warn("executor {}: ignoring an unknown event", settings.executorId());
    }
  }

  private void refused(int from, String why) {
    if (from != attempt || terminated.isDone()) {
      return;
    }
    calls = null;
    stop(false, why, Duration.ZERO);
  }

  private void broken(int from, String why) {
    if (from != attempt || terminated.isDone()) {
      return;
    }
    calls = null;
    if (!settings.checkpoint()) {
      stop(
          false,
          "lost the agent ("
              + why
              + ") and the framework does not checkpoint: no agent would recover this executor",
          Duration.ZERO);
      return;
    }
    long now = System.nanoTime();
    if (lostSince == 0) {
      lostSince = now;
      LOG.info(
          "executor {}: lost the agent ({}); trying again for up to {}",
          settings.executorId(),
          why,
          settings.recoveryTimeout());
    }
    if (now - lostSince >= settings.recoveryTimeout().toNanos()) {
      stop(
          false,
          "the agent did not come back within the recovery timeout ("
              + settings.recoveryTimeout()
              + ")",
          Duration.ZERO);
      return;
    }
    thread.schedule(this::connect, RETRY.toMillis(), TimeUnit.MILLISECONDS);
  }

  private void stop(boolean byAgent, String reason, Duration grace) {
    if (terminated.isDone()) {
      return;
    }
    try {
      handler.shutdown(grace);
    } catch (RuntimeException e) {
      LOG.error("executor {}: shutdown failed", settings.executorId(), e);
    }
    // The updates the handler sent while shutting down go out before the stream ends.
    thread.execute(
        () -> {
          if (calls != null) {
            try {
              calls.onCompleted();
            } catch (RuntimeException e) {
              // broken
            }
          }
          LOG.info("executor {}: stopping: {}", settings.executorId(), reason);
          terminated.complete(new Termination(byAgent, reason));
        });
  }

  @Override
  public void close() {
    thread.shutdownNow();
    if (channel != null) {
      channel.shutdown(); // lets the last calls (the final updates) reach the agent
      try {
        channel.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      channel.shutdownNow();
    }
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }
}
