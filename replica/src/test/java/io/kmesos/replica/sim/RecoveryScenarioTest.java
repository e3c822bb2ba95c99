package io.kmesos.replica.sim;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.ActionType;
import io.kmesos.api.log.v1.Ballot;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.InitializeRequest;
import io.kmesos.api.log.v1.ReplicaStatus;
import io.kmesos.api.log.v1.StatusResponse;
import io.kmesos.replica.core.Coordinator;
import io.kmesos.replica.core.Effects;
import io.kmesos.replica.core.Event;
import io.kmesos.replica.core.LogUse;
import io.kmesos.replica.core.ReplicaCore;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Scripted runs of the real cores for the interleavings that make recovery from a wiped disk
 * necessary. The random simulation reaches them only rarely; here each is forced, step by step.
 */
class RecoveryScenarioTest {
  static final ReplicaCore.Config CONFIG = new ReplicaCore.Config(5, 30, 10, 16, 1L << 20);
  static final Coordinator.Config WRITER = new Coordinator.Config(10, 100, 100, 1000, 1 << 20);

  final SimStorage[] disks = {new SimStorage(), new SimStorage(), new SimStorage()};
  final ReplicaCore[] replicas = new ReplicaCore[3];
  final Deque<Envelope> network = new ArrayDeque<>();
  final List<Envelope> sent = new ArrayList<>();
  final List<Object> writerEvents = new ArrayList<>();
  final List<Coordinator> writers = new ArrayList<>();
  long incarnation = 1;

  @BeforeEach
  void initializeLog() {
    for (int i = 0; i < 3; i++) {
      start(i);
      replica(
          i,
          Envelope.newBuilder()
              .setFrom(900)
              .setTo(i)
              .setInitializeRequest(InitializeRequest.newBuilder().setClusterId("log"))
              .build());
    }
    network.clear();
  }

  void start(int i) {
    replicas[i] = new ReplicaCore(i, 3, disks[i], CONFIG, (incarnation++) << 32);
  }

  void replica(int i, Envelope e) {
    effects(replicas[i].handle(e), disks[i]);
  }

  void effects(Effects e, SimStorage disk) {
    if (disk != null) {
      e.persist().forEach(disk::apply);
    }
    network.addAll(e.messages());
    sent.addAll(e.messages());
    writerEvents.addAll(e.events());
  }

  Coordinator writer(long node) {
    Coordinator c = new Coordinator(node, node * 1000, 3, WRITER);
    writers.add(c);
    return c;
  }

  /** Delivers messages until none is left; those {@code allowed} rejects are lost. */
  void run(Predicate<Envelope> allowed) {
    while (!network.isEmpty()) {
      Envelope e = network.poll();
      if (!allowed.test(e)) {
        continue;
      }
      if (e.getTo() < 3) {
        replica((int) e.getTo(), e);
      } else {
        for (Coordinator c : writers) {
          if (e.getTo() == node(c)) {
            effects(c.handle(e), null);
          }
        }
      }
    }
  }

  long node(Coordinator c) {
    return 100 + writers.indexOf(c);
  }

  void tickReplica(int i, int ticks, Predicate<Envelope> allowed) {
    for (int t = 0; t < ticks; t++) {
      effects(replicas[i].tick(), disks[i]);
      run(allowed);
    }
  }

  static Predicate<Envelope> all() {
    return e -> true;
  }

  static Predicate<Envelope> between(long... nodes) {
    return e -> contains(nodes, e.getFrom()) && contains(nodes, e.getTo());
  }

  static boolean contains(long[] nodes, long n) {
    for (long x : nodes) {
      if (x == n) {
        return true;
      }
    }
    return false;
  }

  void wipeAndRecover(int i, long... peers) {
    disks[i].wipe();
    start(i);
    long[] group = new long[peers.length + 1];
    System.arraycopy(peers, 0, group, 0, peers.length);
    group[peers.length] = i;
    tickReplica(i, 100, between(group));
    assertThat(replicas[i].replicaStatus())
        .as("replica %d recovered", i)
        .isEqualTo(ReplicaStatus.VOTING);
  }

  @Test
  void aCommittedButUnlearnedValueSurvivesTheWipeOfOneOfItsAcceptors() {
    Coordinator w1 = writer(100);
    effects(w1.elect(), null);
    run(all());
    assertThat(w1.status()).isEqualTo(Coordinator.Status.WRITING);

    long p = w1.append(ByteString.copyFromUtf8("v"));
    effects(w1.flush(), null);
    run(between(100, 0, 2)); // replica 1 never hears of it
    assertThat(writerEvents).contains(new Event.Committed(p));
    assertThat(replicas[0].status().getLearnedThrough()).as("nobody learned it yet").isLessThan(p);

    wipeAndRecover(2, 0, 1);
    Action copied = disks[2].all().get(p);
    assertThat(copied).as("the recovered replica holds the committed value").isNotNull();
    assertThat(copied.getPayload().toStringUtf8()).isEqualTo("v");

    // A new writer that cannot reach replica 0 must still find and keep the committed value.
    Coordinator w2 = writer(101);
    sent.clear();
    effects(w2.elect(), null);
    run(between(101, 1, 2));
    Action filled =
        sent.stream()
            .filter(e -> e.hasWriteRequest() && e.getFrom() == 101)
            .flatMap(e -> e.getWriteRequest().getActionsList().stream())
            .filter(a -> a.getPosition() == p)
            .findFirst()
            .orElseThrow();
    assertThat(filled.getType()).isEqualTo(ActionType.APPEND);
    assertThat(filled.getPayload().toStringUtf8()).isEqualTo("v");
  }

  @Test
  void aWipedReplicaOfALogNotYetInUseWaitsToBeInitialized() {
    disks[1].wipe();
    start(1);
    tickReplica(1, 100, all());
    assertThat(replicas[1].replicaStatus()).isEqualTo(ReplicaStatus.EMPTY);
    assertThat(initializeAgain().verdict()).isEqualTo(LogUse.Verdict.INITIALIZE);
    assertThat(replicas[1].replicaStatus()).isEqualTo(ReplicaStatus.VOTING);
  }

  @Test
  void aWipedReplicaBesideAQuorumThatOnlyPromisedRecoversThePromise() {
    Coordinator w = writer(100);
    effects(w.elect(), null);
    run(all());
    assertThat(w.status()).isEqualTo(Coordinator.Status.WRITING);
    disks[1].wipe();
    start(1);
    tickReplica(1, 100, all());
    assertThat(replicas[1].replicaStatus()).isEqualTo(ReplicaStatus.VOTING);
    assertThat(replicas[1].status().getPromised()).isEqualTo(w.ballot());
    assertThat(writerEvents)
        .contains(new Event.StatusChanged(ReplicaStatus.EMPTY, ReplicaStatus.RECOVERING, "log", 0));
    assertThat(initializeAgain().verdict()).isEqualTo(LogUse.Verdict.IN_USE);
  }

  /** Replicas 1 and 2 as if the first initialize had reached replica 0 only. */
  void halfInitialized(int... notReached) {
    for (int i : notReached) {
      disks[i].wipe();
      start(i);
    }
  }

  /** {@code kmesos-log initialize} run again, as {@code Log.initialize} does it. */
  LogUse.Decision initializeAgain() {
    List<StatusResponse> statuses = new ArrayList<>();
    for (ReplicaCore r : replicas) {
      statuses.add(r.status());
    }
    LogUse.Decision d = LogUse.decide("log", statuses);
    if (d.verdict() == LogUse.Verdict.INITIALIZE) {
      for (int i = 0; i < 3; i++) {
        replica(
            i,
            Envelope.newBuilder()
                .setFrom(900)
                .setTo(i)
                .setInitializeRequest(
                    InitializeRequest.newBuilder().setClusterId("log").setPromised(d.promise()))
                .build());
      }
    }
    return d;
  }

  /**
   * The real node's install: the initialize reached replica 0, a master campaigned (replica 0
   * promised, the election failed), then the rest of the initialize. Replicas 1 and 2 must wait to
   * be initialized (they went RECOVERING under the old rule, and with one voting replica could
   * never finish), and the completed log must take writes.
   */
  @Test
  void aWriterCampaigningDuringAHalfDoneInitializeLeavesTheLogToBeCompleted() {
    halfInitialized(1, 2);
    Coordinator early = writer(100);
    effects(early.elect(), null);
    run(all());
    assertThat(replicas[0].status().getPromised().getRound()).as("replica 0 promised").isPositive();
    assertThat(early.status()).isNotEqualTo(Coordinator.Status.WRITING);
    Ballot promised = replicas[0].status().getPromised();

    tickReplica(1, 100, all());
    tickReplica(2, 100, all());
    assertThat(replicas[1].replicaStatus()).isEqualTo(ReplicaStatus.EMPTY);
    assertThat(replicas[2].replicaStatus()).isEqualTo(ReplicaStatus.EMPTY);

    LogUse.Decision d = initializeAgain();
    assertThat(d.verdict()).isEqualTo(LogUse.Verdict.INITIALIZE);
    assertThat(d.promise()).isEqualTo(promised);
    for (ReplicaCore r : replicas) {
      assertThat(r.replicaStatus()).isEqualTo(ReplicaStatus.VOTING);
      assertThat(r.status().getPromised()).isEqualTo(promised);
    }
    assertThat(initializeAgain().verdict()).as("run once more").isEqualTo(LogUse.Verdict.IN_USE);

    Coordinator w = writer(101);
    effects(w.elect(), null);
    run(all());
    assertThat(w.status()).isEqualTo(Coordinator.Status.WRITING);
    long p = w.append(ByteString.copyFromUtf8("after"));
    effects(w.flush(), null);
    run(all());
    assertThat(writerEvents).contains(new Event.Committed(p));
  }

  /**
   * Initialize reached replicas 0 and 1; two writers were elected in turn, nothing was written;
   * replica 1 lost its disk. Replica 0 alone remembers the newer ballot. Completing the log must
   * not let the deposed writer use the two re-initialized replicas as its quorum.
   */
  @Test
  void completingTheLogKeepsADeposedWriterFenced() {
    halfInitialized(2);
    Coordinator old = writer(100);
    effects(old.elect(), null);
    run(all());
    assertThat(old.status()).isEqualTo(Coordinator.Status.WRITING);
    Coordinator newer = writer(101);
    effects(newer.elect(), null);
    run(between(101, 0, 1));
    assertThat(newer.status()).isEqualTo(Coordinator.Status.WRITING);

    halfInitialized(1);
    LogUse.Decision d = initializeAgain();
    assertThat(d.verdict()).isEqualTo(LogUse.Verdict.INITIALIZE);
    assertThat(d.promise()).isEqualTo(newer.ballot());

    writerEvents.clear();
    long stale = old.append(ByteString.copyFromUtf8("stale"));
    effects(old.flush(), null);
    run(between(100, 1, 2)); // the deposed writer reaches only the re-initialized replicas
    assertThat(writerEvents).doesNotContain(new Event.Committed(stale));
    assertThat(old.status()).isEqualTo(Coordinator.Status.SUPERSEDED);

    long p = newer.append(ByteString.copyFromUtf8("new"));
    effects(newer.flush(), null);
    run(all());
    assertThat(writerEvents).contains(new Event.Committed(p));
  }

  /** A majority lost its disk after entries were written: initialize must not start it afresh. */
  @Test
  void entriesBesideAMajorityWithoutDataAreNotInitializedAfresh() {
    Coordinator w = writer(100);
    effects(w.elect(), null);
    run(all());
    long p = w.append(ByteString.copyFromUtf8("v"));
    effects(w.flush(), null);
    run(all());
    assertThat(writerEvents).contains(new Event.Committed(p));

    halfInitialized(1, 2);
    tickReplica(1, 100, all());
    assertThat(replicas[1].replicaStatus())
        .as("it sees an entry: it may have held chosen values, so it never votes afresh")
        .isEqualTo(ReplicaStatus.RECOVERING);
    LogUse.Decision d = initializeAgain();
    assertThat(d.verdict()).isEqualTo(LogUse.Verdict.DATA_LOST);
    assertThat(replicas[2].replicaStatus()).isEqualTo(ReplicaStatus.EMPTY);
  }

  @Test
  void aPromiseMadeBeforeTheWipeStillFencesTheOldWriter() {
    Coordinator w1 = writer(100);
    effects(w1.elect(), null);
    run(all());
    Coordinator w2 = writer(101);
    effects(w2.elect(), null);
    run(between(101, 0, 1)); // replica 2 has not seen the new ballot
    assertThat(w2.status()).isEqualTo(Coordinator.Status.WRITING);
    Ballot newer = w2.ballot();

    wipeAndRecover(0, 1, 2);
    assertThat(replicas[0].status().getPromised()).as("the recovered promise").isEqualTo(newer);

    writerEvents.clear();
    long p = w1.append(ByteString.copyFromUtf8("stale"));
    effects(w1.flush(), null);
    run(between(100, 0, 2));
    assertThat(writerEvents).doesNotContain(new Event.Committed(p));
    assertThat(w1.status()).isEqualTo(Coordinator.Status.SUPERSEDED);
  }

  @Test
  void aWipedReplicaCopiesNothingBeforeTheGracePeriod() {
    Coordinator w = writer(100);
    effects(w.elect(), null);
    run(all());
    disks[1].wipe();
    start(1);
    sent.clear();
    tickReplica(1, CONFIG.recoveryGraceTicks() - 1, all());
    assertThat(sent).noneMatch(e -> e.hasFetchRequest() && e.getFrom() == 1);
    assertThat(replicas[1].replicaStatus()).isEqualTo(ReplicaStatus.RECOVERING);
    tickReplica(1, 3 * CONFIG.catchUpIntervalTicks(), all());
    assertThat(replicas[1].replicaStatus()).isEqualTo(ReplicaStatus.VOTING);
  }
}
