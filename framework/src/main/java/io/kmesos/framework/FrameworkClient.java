package io.kmesos.framework;

import com.google.protobuf.ByteString;
import io.grpc.ConnectivityState;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import io.kmesos.api.cli.Failures;
import io.kmesos.api.scheduler.v1.AcceptRequest;
import io.kmesos.api.scheduler.v1.AcceptResponse;
import io.kmesos.api.scheduler.v1.AcknowledgeRequest;
import io.kmesos.api.scheduler.v1.AcknowledgeResponse;
import io.kmesos.api.scheduler.v1.DeclineRequest;
import io.kmesos.api.scheduler.v1.DeclineResponse;
import io.kmesos.api.scheduler.v1.Event;
import io.kmesos.api.scheduler.v1.KillRequest;
import io.kmesos.api.scheduler.v1.KillResponse;
import io.kmesos.api.scheduler.v1.Operation;
import io.kmesos.api.scheduler.v1.ReconcileRequest;
import io.kmesos.api.scheduler.v1.ReconcileResponse;
import io.kmesos.api.scheduler.v1.ReviveRequest;
import io.kmesos.api.scheduler.v1.ReviveResponse;
import io.kmesos.api.scheduler.v1.SchedulerGrpc;
import io.kmesos.api.scheduler.v1.SubscribeRequest;
import io.kmesos.api.scheduler.v1.SuppressRequest;
import io.kmesos.api.scheduler.v1.SuppressResponse;
import io.kmesos.api.scheduler.v1.TeardownRequest;
import io.kmesos.api.scheduler.v1.TeardownResponse;
import io.kmesos.api.v1.Filters;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskStatus;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A framework's connection to the kmesos master, as Mesos's scheduler driver: it subscribes, keeps
 * the subscription alive, and hands every event to a {@link Scheduler}; the framework's calls
 * (Accept, Decline, Kill, ...) go through it under the current subscription.
 *
 * <ul>
 *   <li><b>Finding the master.</b> The addresses of {@link FrameworkSettings#masters} are tried in
 *       turn; a master that answers UNAVAILABLE with a {@code kmesos-leader} trailer is followed to
 *       that leader at once. After a round without a subscription the client waits ({@link
 *       Backoff}: 100 ms doubling to 5 s, jittered) and starts again with the first address.
 *   <li><b>Credentials.</b> TLS that verifies the master's identity (the settings' credentials) and
 *       a bearer token read from its file on every subscription attempt, so a rotated token is used
 *       from the next connection on.
 *   <li><b>Resubscription.</b> The framework ID the master assigned is kept in the FrameworkInfo
 *       and sent on every later subscription, so the master keeps the framework and its tasks as
 *       long as its {@code failover_timeout} has not expired. If it has, the master refuses the ID
 *       (FAILED_PRECONDITION) and the client reports {@link Scheduler#error} and stops.
 *   <li><b>Heartbeats.</b> When no event (heartbeats included) arrives for {@code heartbeatMisses}
 *       heartbeat intervals, the connection is treated as dead: cancelled, {@link
 *       Scheduler#disconnected}, subscribe again.
 *   <li><b>Calls.</b> Every call carries the framework ID and the stream ID of the current
 *       subscription, and returns a future that fails with {@link CallRefusedException} (with the
 *       master's status) when refused. A FAILED_PRECONDITION answer means the subscription is
 *       stale: the client drops it and subscribes again.
 *   <li><b>Acknowledgements.</b> Automatic by default: an update with a uuid is acknowledged after
 *       {@link Scheduler#update} returns (so a framework that crashes inside the callback sees the
 *       update again). With {@link FrameworkSettings#explicitAcknowledgements} the framework calls
 *       {@link #acknowledge} itself.
 *   <li><b>Reconciliation.</b> After every subscription the client sends an implicit Reconcile (all
 *       tasks the master knows of the framework), as Mesos frameworks should.
 * </ul>
 */
public final class FrameworkClient implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(FrameworkClient.class);

  /** The thread every {@link Scheduler} callback runs on. */
  public static final String EVENT_THREAD = "framework-events";

  private final FrameworkSettings settings;
  private final Scheduler scheduler;
  private final ExecutorService events;
  private final Thread connection;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final CompletableFuture<Void> stopped = new CompletableFuture<>();

  private volatile FrameworkInfo framework;
  private volatile Session session;
  private volatile ClientCallStreamObserver<SubscribeRequest> currentCall;
  private volatile boolean closed;
  // Set by teardown(): the master's ERROR that follows is the answer, not a failure to warn of.
  private volatile boolean tornDown;

  /** The subscription calls are made under. */
  private record Session(
      String address, SchedulerGrpc.SchedulerStub stub, String frameworkId, String streamId) {}

  /** How the stream of one subscription attempt ended. */
  private record Ended(Throwable failure) {}

  private FrameworkClient(FrameworkSettings settings, Scheduler scheduler) {
    this.settings = settings;
    this.scheduler = scheduler;
    this.framework = settings.framework();
    this.events =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, EVENT_THREAD);
              t.setDaemon(true);
              return t;
            });
    this.connection = new Thread(this::connect, "framework-connection");
    this.connection.setDaemon(true);
  }

  /**
   * Starts subscribing in the background; events go to {@code scheduler}.
   *
   * @throws IllegalArgumentException if the token file cannot be read now (named)
   */
  public static FrameworkClient start(FrameworkSettings settings, Scheduler scheduler) {
    BearerToken.read(settings.tokenFile()); // a missing token fails now, not in the background
    FrameworkClient client = new FrameworkClient(settings, scheduler);
    client.connection.start();
    return client;
  }

  /** The framework ID, once the master assigned one (empty before). */
  public String frameworkId() {
    return framework.getId();
  }

  /** Whether a subscription is live now. */
  public boolean subscribed() {
    return session != null;
  }

  /** The address of the master of the current subscription, or null. */
  public String masterAddress() {
    Session s = session;
    return s == null ? null : s.address();
  }

  /**
   * Completes when the client has stopped for good: {@link #close} or a {@link Scheduler#error}.
   */
  public CompletableFuture<Void> stopped() {
    return stopped;
  }

  // ---- calls ------------------------------------------------------------------------------------

  /** Accepts {@code offerIds} (of one agent) and launches {@code tasks} on them. */
  public CompletableFuture<Void> launch(
      Collection<String> offerIds, List<TaskInfo> tasks, Filters filters) {
    return accept(
        offerIds,
        List.of(
            Operation.newBuilder()
                .setLaunch(Operation.Launch.newBuilder().addAllTasks(tasks))
                .build()),
        filters);
  }

  public CompletableFuture<Void> accept(
      Collection<String> offerIds, List<Operation> operations, Filters filters) {
    return this.<AcceptResponse>unary(
        "Accept",
        (s, o) ->
            s.stub()
                .accept(
                    AcceptRequest.newBuilder()
                        .setFrameworkId(s.frameworkId())
                        .setStreamId(s.streamId())
                        .addAllOfferIds(offerIds)
                        .addAllOperations(operations)
                        .setFilters(filters == null ? Filters.getDefaultInstance() : filters)
                        .build(),
                    o));
  }

  public CompletableFuture<Void> decline(Collection<String> offerIds, Filters filters) {
    return this.<DeclineResponse>unary(
        "Decline",
        (s, o) ->
            s.stub()
                .decline(
                    DeclineRequest.newBuilder()
                        .setFrameworkId(s.frameworkId())
                        .setStreamId(s.streamId())
                        .addAllOfferIds(offerIds)
                        .setFilters(filters == null ? Filters.getDefaultInstance() : filters)
                        .build(),
                    o));
  }

  /**
   * Kills a task; {@code agentId} may be empty, {@code grace} null (the task's own grace period).
   */
  public CompletableFuture<Void> kill(String taskId, String agentId, Duration grace) {
    return this.<KillResponse>unary(
        "Kill",
        (s, o) -> {
          KillRequest.Builder b =
              KillRequest.newBuilder()
                  .setFrameworkId(s.frameworkId())
                  .setStreamId(s.streamId())
                  .setTaskId(taskId)
                  .setAgentId(agentId == null ? "" : agentId);
          if (grace != null) {
            b.setKillGracePeriod(Protos.duration(grace));
          }
          s.stub().kill(b.build(), o);
        });
  }

  /**
   * Acknowledges {@code status} (an update that carries a uuid; one without needs none and is
   * ignored, completing at once).
   */
  public CompletableFuture<Void> acknowledge(TaskStatus status) {
    if (status.getUuid().isEmpty()) {
      return CompletableFuture.completedFuture(null);
    }
    return acknowledge(status.getAgentId(), status.getTaskId(), status.getUuid());
  }

  public CompletableFuture<Void> acknowledge(String agentId, String taskId, ByteString uuid) {
    return this.<AcknowledgeResponse>unary(
        "Acknowledge",
        (s, o) ->
            s.stub()
                .acknowledge(
                    AcknowledgeRequest.newBuilder()
                        .setFrameworkId(s.frameworkId())
                        .setStreamId(s.streamId())
                        .setAgentId(agentId)
                        .setTaskId(taskId)
                        .setUuid(uuid)
                        .build(),
                    o));
  }

  /** Reconciles the given tasks (explicit), or all the master knows when empty (implicit). */
  public CompletableFuture<Void> reconcile(List<ReconcileRequest.Task> tasks) {
    return this.<ReconcileResponse>unary(
        "Reconcile",
        (s, o) ->
            s.stub()
                .reconcile(
                    ReconcileRequest.newBuilder()
                        .setFrameworkId(s.frameworkId())
                        .setStreamId(s.streamId())
                        .addAllTasks(tasks)
                        .build(),
                    o));
  }

  /** Stops offers for {@code roles} (empty: all of the framework's). */
  public CompletableFuture<Void> suppress(List<String> roles) {
    return this.<SuppressResponse>unary(
        "Suppress",
        (s, o) ->
            s.stub()
                .suppress(
                    SuppressRequest.newBuilder()
                        .setFrameworkId(s.frameworkId())
                        .setStreamId(s.streamId())
                        .addAllRoles(roles)
                        .build(),
                    o));
  }

  /** Resumes offers for {@code roles} (empty: all) and clears the framework's filters. */
  public CompletableFuture<Void> revive(List<String> roles) {
    return this.<ReviveResponse>unary(
        "Revive",
        (s, o) ->
            s.stub()
                .revive(
                    ReviveRequest.newBuilder()
                        .setFrameworkId(s.frameworkId())
                        .setStreamId(s.streamId())
                        .addAllRoles(roles)
                        .build(),
                    o));
  }

  /** Removes the framework for good (its tasks are killed); then close the client. */
  public CompletableFuture<Void> teardown() {
    tornDown = true;
    return this.<TeardownResponse>unary(
        "Teardown",
        (s, o) ->
            s.stub()
                .teardown(
                    TeardownRequest.newBuilder()
                        .setFrameworkId(s.frameworkId())
                        .setStreamId(s.streamId())
                        .build(),
                    o));
  }

  private interface Call<R> {
    void start(Session session, StreamObserver<R> observer);
  }

  private <R> CompletableFuture<Void> unary(String name, Call<R> call) {
    CompletableFuture<Void> result = new CompletableFuture<>();
    Session s = session;
    if (s == null) {
      result.completeExceptionally(
          new CallRefusedException(
              name,
              Status.FAILED_PRECONDITION.withDescription(
                  "not subscribed to a master at the moment; the client is (re)subscribing")));
      return result;
    }
    Session withDeadline =
        new Session(
            s.address(),
            s.stub().withDeadlineAfter(settings.callTimeout().toMillis(), TimeUnit.MILLISECONDS),
            s.frameworkId(),
            s.streamId());
    call.start(
        withDeadline,
        new StreamObserver<R>() {
          @Override
          public void onNext(R value) {}

          @Override
          public void onError(Throwable t) {
            Status status = Status.fromThrowable(t);
            if (status.getCode() == Status.Code.FAILED_PRECONDITION && session == s) {
              // The master no longer knows this subscription (it ended it, or failed over):
              // subscribe again rather than keep calling under a dead stream ID.
              dropSubscription(name + " answered " + status.getCode());
            }
            result.completeExceptionally(new CallRefusedException(name, status));
          }

          @Override
          public void onCompleted() {
            result.complete(null);
          }
        });
    return result;
  }

  private void dropSubscription(String why) {
    ClientCallStreamObserver<SubscribeRequest> call = currentCall;
    if (call != null) {
      call.cancel(why, null);
    }
  }

  // ---- the connection ---------------------------------------------------------------------------

  /** What one subscription attempt came to. */
  private enum Outcome {
    /** It was subscribed, then the connection ended: subscribe again. */
    WAS_SUBSCRIBED,
    /** No subscription: try the next master. */
    FAILED,
    /** Refused for good, or closed: stop. */
    STOP
  }

  private String lastLeaderHint;

  private void connect() {
    Backoff backoff = new Backoff();
    String preferred = null;
    boolean everSubscribed = false;
    try {
      while (!closed) {
        List<String> round = new ArrayList<>();
        if (preferred != null) {
          round.add(preferred);
        }
        for (String m : settings.masters()) {
          if (!round.contains(m)) {
            round.add(m);
          }
        }
        preferred = null;
        boolean subscribedThisRound = false;
        for (int i = 0; i < round.size() && !closed; i++) {
          String address = round.get(i);
          lastLeaderHint = null;
          Outcome outcome = attempt(address, everSubscribed);
          if (outcome == Outcome.STOP) {
            return;
          }
          if (outcome == Outcome.WAS_SUBSCRIBED) {
            everSubscribed = true;
            subscribedThisRound = true;
            // Come back to the master that served us first, unless it named another leader.
            preferred = lastLeaderHint != null ? lastLeaderHint : address;
            break;
          }
          String hint = lastLeaderHint;
          if (hint != null && !round.subList(0, i + 1).contains(hint)) {
            round.remove(hint);
            round.add(i + 1, hint); // follow the standby's pointer to the leader at once
          }
        }
        if (subscribedThisRound) {
          backoff.reset();
        }
        if (!closed) {
          Thread.sleep(backoff.next().toMillis());
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      session = null;
      try {
        events.execute(() -> stopped.complete(null)); // after the callbacks queued so far
      } catch (RejectedExecutionException e) {
        stopped.complete(null);
      }
    }
  }

  /** Subscribes at {@code address} and serves the subscription until it ends. */
  private Outcome attempt(String address, boolean resubscribing) throws InterruptedException {
    BearerToken token;
    try {
      token = BearerToken.read(settings.tokenFile());
    } catch (IllegalArgumentException e) {
      LOG.warn("not subscribing: {}", e.getMessage());
      return Outcome.FAILED;
    }
    ManagedChannel channel =
        channels.computeIfAbsent(
            address, a -> Grpc.newChannelBuilder(a, settings.credentials()).build());
    if (channel.getState(false) == ConnectivityState.TRANSIENT_FAILURE) {
      // gRPC's own reconnect backoff grows to 2 minutes; ours (at most 5 s) decides when to retry.
      channel.resetConnectBackoff();
    }
    SchedulerGrpc.SchedulerStub stub = SchedulerGrpc.newStub(channel).withCallCredentials(token);
    BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
    SubscribeRequest request =
        SubscribeRequest.newBuilder()
            .setFrameworkInfo(framework)
            .addAllSuppressedRoles(settings.suppressedRoles())
            .build();
    stub.subscribe(
        request,
        new ClientResponseObserver<SubscribeRequest, Event>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<SubscribeRequest> call) {
            currentCall = call;
          }

          @Override
          public void onNext(Event event) {
            queue.add(event);
          }

          @Override
          public void onError(Throwable t) {
            queue.add(new Ended(t));
          }

          @Override
          public void onCompleted() {
            queue.add(new Ended(null));
          }
        });
    if (closed) {
      dropSubscription("client closed");
      return Outcome.STOP;
    }
    Duration silence = settings.subscribeTimeout();
    Session mine = null;
    while (true) {
      Object next = queue.poll(silence.toMillis(), TimeUnit.MILLISECONDS);
      if (closed) {
        dropSubscription("client closed");
        return Outcome.STOP;
      }
      if (next == null) {
        String why =
            mine == null
                ? "no answer to Subscribe from " + address + " within " + human(silence)
                : "no event from " + address + " within " + human(silence) + " (missed heartbeats)";
        dropSubscription(why);
        return lost(mine, why);
      }
      if (next instanceof Ended ended) {
        if (ended.failure() == null) {
          return lost(mine, "the master at " + address + " ended the subscription");
        }
        Status status = Status.fromThrowable(ended.failure());
        lastLeaderHint = LeaderHint.of(ended.failure());
        String why = address + ": " + Failures.reason(ended.failure(), null);
        if (mine == null && refusedForGood(status.getCode())) {
          String message = "the master refused the subscription: " + why;
          stopWithError(message);
          return Outcome.STOP;
        }
        return lost(mine, why);
      }
      Event event = (Event) next;
      switch (event.getKindCase()) {
        case SUBSCRIBED -> {
          Event.Subscribed sub = event.getSubscribed();
          framework = framework.toBuilder().setId(sub.getFrameworkId()).build();
          mine = new Session(address, stub, sub.getFrameworkId(), sub.getStreamId());
          session = mine;
          Duration interval =
              Protos.duration(sub.getHeartbeatInterval(), FrameworkSettings.DEFAULT_HEARTBEAT);
          silence = interval.multipliedBy(settings.heartbeatMisses());
          LOG.info(
              "subscribed to {} as framework {} (stream {})",
              address,
              sub.getFrameworkId(),
              sub.getStreamId());
          String id = sub.getFrameworkId();
          boolean again = resubscribing;
          dispatch(() -> scheduler.subscribed(this, id, sub.getMasterInfo(), again));
          reconcile(List.of())
              .exceptionally(
                  e -> {
                    LOG.warn("implicit reconciliation failed: {}", Failures.oneLine(e));
                    return null;
                  });
        }
        case OFFERS -> dispatch(() -> scheduler.offers(this, event.getOffers().getOffersList()));
        case RESCIND -> dispatch(() -> scheduler.rescind(this, event.getRescind().getOfferId()));
        case UPDATE -> {
          TaskStatus status = event.getUpdate().getStatus();
          dispatch(
              () -> {
                scheduler.update(this, status);
                if (!settings.explicitAcknowledgements() && !status.getUuid().isEmpty()) {
                  acknowledge(status)
                      .exceptionally(
                          e -> {
                            // The agent retries an unacknowledged update: it comes back, to be
                            // acknowledged again.
                            LOG.warn(
                                "acknowledging task {}'s update failed: {}",
                                status.getTaskId(),
                                Failures.oneLine(e));
                            return null;
                          });
                }
              });
        }
        case FAILURE -> dispatch(() -> scheduler.failure(this, event.getFailure()));
        case ERROR -> {
          dropSubscription("the master ended the subscription");
          stopWithError(event.getError().getMessage());
          return Outcome.STOP;
        }
        case HEARTBEAT, KIND_NOT_SET -> {}
      }
    }
  }

  /** Refusals at subscription that another attempt would only repeat. */
  private static boolean refusedForGood(Status.Code code) {
    return code == Status.Code.PERMISSION_DENIED
        || code == Status.Code.FAILED_PRECONDITION
        || code == Status.Code.INVALID_ARGUMENT;
  }

  private Outcome lost(Session mine, String why) {
    if (mine == null) {
      LOG.info("could not subscribe: {}", why);
      return Outcome.FAILED;
    }
    session = null;
    LOG.warn("disconnected: {}", why);
    dispatch(() -> scheduler.disconnected(this, why));
    return Outcome.WAS_SUBSCRIBED;
  }

  private void stopWithError(String message) {
    session = null;
    closed = true;
    if (tornDown) {
      LOG.info("stopped: {}", message);
    } else {
      LOG.warn("stopped: {}", message);
    }
    dispatch(() -> scheduler.error(this, message));
  }

  private void dispatch(Runnable callback) {
    try {
      events.execute(
          () -> {
            try {
              callback.run();
            } catch (RuntimeException e) {
              LOG.error("the scheduler's callback failed", e);
            }
          });
    } catch (RejectedExecutionException e) {
      // closed: no more callbacks
    }
  }

  private static String human(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
  }

  /**
   * Stops: ends the subscription (the master keeps the framework for its failover timeout), closes
   * the connections; callbacks already queued still run.
   */
  @Override
  public void close() {
    closed = true;
    dropSubscription("client closed");
    connection.interrupt();
    try {
      if (Thread.currentThread() != connection) {
        connection.join(5000);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    session = null;
    events.shutdown();
    if (!Thread.currentThread().getName().equals(EVENT_THREAD)) {
      // From a callback (on the event thread itself) there is nothing to wait for.
      try {
        events.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    for (ManagedChannel c : channels.values()) {
      c.shutdownNow();
    }
    stopped.complete(null);
  }
}
