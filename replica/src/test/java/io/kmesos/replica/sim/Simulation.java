package io.kmesos.replica.sim;

import com.google.protobuf.ByteString;
import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.ActionType;
import io.kmesos.api.log.v1.Ballot;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.FetchRequest;
import io.kmesos.api.log.v1.InitializeRequest;
import io.kmesos.api.log.v1.InitializeResponse;
import io.kmesos.api.log.v1.ReplicaStatus;
import io.kmesos.api.log.v1.StatusResponse;
import io.kmesos.replica.core.Ballots;
import io.kmesos.replica.core.Coordinator;
import io.kmesos.replica.core.Effects;
import io.kmesos.replica.core.Event;
import io.kmesos.replica.core.LogUse;
import io.kmesos.replica.core.ReplicaCore;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;

/**
 * One seeded run of the replicated log: replicas and writers (the real protocol cores) on a
 * simulated network that drops, delays, duplicates and reorders messages, with partitions, crashes
 * that lose unsynced writes, wiped disks and racing writers. The safety invariants are checked
 * after every step; at the end the faults stop and the log must converge with every acknowledged
 * append present exactly once, in order. Everything follows from the seed, so a failure replays.
 */
final class Simulation {
  /** A broken invariant, with the seed and tick that show it. */
  static final class Violation extends AssertionError {
    Violation(String message) {
      super(message);
    }
  }

  /** How hostile a run is; derived from the seed. */
  record Options(
      int replicas,
      int faultTicks,
      double drop,
      double duplicate,
      int maxDelay,
      double crashRate,
      double wipeRate,
      double partitionRate,
      double writerCrashRate,
      boolean twoWriters,
      double crashBeforeSyncRate,
      int batchesInFlight,
      int batchBytes,
      long fetchBytes,
      boolean groupCommit,
      int completeInitializeAt) {
    static Options from(long seed) {
      Random r = new Random(seed ^ 0x5DEECE66DL);
      return new Options(
          r.nextBoolean() ? 3 : 5,
          400 + r.nextInt(400),
          r.nextDouble() * 0.2,
          r.nextDouble() * 0.1,
          1 + r.nextInt(40),
          r.nextDouble() * 0.02,
          r.nextDouble() * 0.02,
          r.nextDouble() * 0.03,
          r.nextDouble() * 0.01,
          r.nextInt(3) > 0,
          r.nextDouble() * 0.05,
          1 + r.nextInt(4),
          r.nextBoolean() ? 1 << 20 : 1 + r.nextInt(64),
          r.nextBoolean() ? 1L << 20 : 1 + r.nextInt(100),
          r.nextBoolean(),
          // A quarter of the runs start half initialized (drawn last: the other options of a seed
          // stay what they were).
          r.nextInt(4) == 0 ? 20 + r.nextInt(150) : 0);
    }
  }

  /**
   * With {@code completeInitializeAt > 0} the run starts as the real node's install did: the first
   * initialize reached fewer than a quorum of replicas, the writers campaign at once (making those
   * replicas promise), and a second run of the tool completes the log from this tick on, retrying
   * every {@link #TOOL_RETRY} ticks until it succeeds.
   */
  static final int TOOL_RETRY = 10;

  /** A request older than this is dropped by its receiver (the shell's gRPC deadline). */
  static final int DEADLINE = 30;

  private static final long TOOL = 900;
  private static final long READER = 901;
  private static final int HEAL_TICKS = 4000;

  private final long seed;
  private final Options options;
  private final Random rnd;
  private long now;
  private long sendSeq;

  private final List<SimReplica> replicas = new ArrayList<>();
  private final List<SimWriter> writers = new ArrayList<>();
  private final PriorityQueue<Packet> network = new PriorityQueue<>();
  private final Set<Long> cut = new HashSet<>();
  private boolean faults = true;
  private boolean initialized;

  // What the checks know.
  private final Map<Long, Action> chosen = new HashMap<>();
  private final Map<Long, String> acked = new HashMap<>();
  private final Set<String> proposed = new HashSet<>();
  private final List<Event.Elected> elections = new ArrayList<>();
  private final ArrayDeque<String> trace = new ArrayDeque<>();
  int committedCount;
  int wipes;
  int crashes;

  private record Packet(long at, long seq, Envelope envelope, long deadline)
      implements Comparable<Packet> {
    @Override
    public int compareTo(Packet o) {
      return at != o.at ? Long.compare(at, o.at) : Long.compare(seq, o.seq);
    }
  }

  private final class SimReplica {
    final int id;
    final SimStorage storage = new SimStorage();
    ReplicaCore core;
    long downUntil = -1;

    /** Positions up to here were checked against what was chosen. */
    long checkedThrough;

    /**
     * With group commit, the effects of this tick's inputs, not yet written: the server handles a
     * batch of inputs, then writes once and only then sends (see {@link ReplicaCore#readsStorage}).
     */
    final List<Effects> deferred = new ArrayList<>();

    SimReplica(int id) {
      this.id = id;
      start();
    }

    void start() {
      core =
          new ReplicaCore(
              id,
              options.replicas(),
              storage,
              new ReplicaCore.Config(10, DEADLINE + 10, 20, 16, options.fetchBytes()),
              rnd.nextLong());
      downUntil = -1;
    }

    boolean up() {
      return downUntil < 0;
    }
  }

  private final class SimWriter {
    final long node;
    Coordinator coordinator;
    final Map<Long, String> pending = new HashMap<>();
    long backoffUntil;
    long downUntil = -1;
    int seq;
    long instance;

    SimWriter(long node) {
      this.node = node;
      fresh();
    }

    void fresh() {
      instance = rnd.nextLong() & Long.MAX_VALUE;
      coordinator =
          new Coordinator(
              node,
              instance,
              options.replicas(),
              new Coordinator.Config(15, 120, 64, options.batchesInFlight(), options.batchBytes()));
      pending.clear();
    }

    boolean up() {
      return downUntil < 0;
    }
  }

  Simulation(long seed) {
    this.seed = seed;
    this.options = Options.from(seed);
    this.rnd = new Random(seed);
  }

  Options options() {
    return options;
  }

  /**
   * Runs the whole scenario; throws {@link Violation} on a broken invariant or a log that does not
   * converge.
   */
  void run() {
    for (int i = 0; i < options.replicas(); i++) {
      replicas.add(new SimReplica(i));
    }
    int first = options.completeInitializeAt() > 0 ? options.replicas() / 2 : options.replicas();
    for (SimReplica r : replicas.subList(0, first)) {
      apply(
          r,
          r.core.handle(
              Envelope.newBuilder()
                  .setFrom(TOOL)
                  .setTo(r.id)
                  .setInitializeRequest(InitializeRequest.newBuilder().setClusterId("sim-" + seed))
                  .build()));
    }
    initialized = first == options.replicas();
    if (!initialized) {
      note("initialized replicas 0.." + (first - 1) + " only");
    }
    writers.add(new SimWriter(100));
    if (options.twoWriters()) {
      writers.add(new SimWriter(101));
    }
    for (; now < options.faultTicks(); now++) {
      step();
    }
    heal();
    long deadline = now + HEAL_TICKS;
    long marker = -1;
    SimWriter last = writers.get(0);
    while (now < deadline) {
      step();
      now++;
      if (marker < 0 && last.coordinator.status() == Coordinator.Status.WRITING) {
        String payload = "final-" + last.instance;
        proposed.add(payload);
        marker = last.coordinator.append(ByteString.copyFromUtf8(payload));
        last.pending.put(marker, payload);
        apply(last, last.coordinator.flush());
      }
      if (marker > 0 && acked.containsKey(marker) && converged(marker)) {
        finalChecks();
        return;
      }
      if (marker > 0 && last.coordinator.status() == Coordinator.Status.SUPERSEDED) {
        marker = -1;
      }
    }
    fail(
        "did not converge within "
            + HEAL_TICKS
            + " ticks after the faults stopped; replicas: "
            + describeReplicas());
  }

  // ---- one tick -----------------------------------------------------------------------------

  private void step() {
    if (faults) {
      injectFaults();
    }
    restartDue();
    if (!initialized
        && now >= options.completeInitializeAt()
        && (now - options.completeInitializeAt()) % TOOL_RETRY == 0) {
      initializeAgain();
    }
    // Deliver what is due, in random order within the tick (reordering).
    while (!network.isEmpty() && network.peek().at() <= now) {
      deliver(network.poll());
    }
    for (SimReplica r : replicas) {
      if (r.up()) {
        Effects tick = r.core.tick();
        if (options.groupCommit()) {
          r.deferred.add(tick);
        } else {
          apply(r, tick);
        }
      }
      // A batch may span ticks, as a busy server's queue does. (Runs without group commit draw
      // nothing here, so that their seeds replay as they did before group commit was modelled.)
      if (!options.groupCommit() || !faults || rnd.nextBoolean()) {
        commit(r);
      }
    }
    for (SimWriter w : writers) {
      if (w.up()) {
        apply(w, w.coordinator.tick());
        drive(w);
      }
    }
    if (rnd.nextInt(10) == 0) {
      read();
    }
  }

  /**
   * {@code kmesos-log initialize} run again, as {@code Log.initialize} does it: every replica's
   * status, the decision of {@link LogUse}, then an initialize request to each replica.
   */
  private void initializeAgain() {
    String log = "sim-" + seed;
    List<StatusResponse> statuses = new ArrayList<>();
    for (SimReplica r : replicas) {
      statuses.add(r.up() ? r.core.status() : null);
    }
    LogUse.Decision d = LogUse.decide(log, statuses);
    note("initialize again: " + d.verdict() + (d.message() == null ? "" : ": " + d.message()));
    switch (d.verdict()) {
      case IN_USE -> initialized = true;
      case UNKNOWN -> {} // a replica is down: the Job retries
      case INITIALIZE -> {
        boolean all = true;
        for (SimReplica r : replicas) {
          commit(r);
          Effects e =
              r.core.handle(
                  Envelope.newBuilder()
                      .setFrom(TOOL)
                      .setTo(r.id)
                      .setInitializeRequest(
                          InitializeRequest.newBuilder().setClusterId(log).setPromised(d.promise()))
                      .build());
          apply(r, e);
          InitializeResponse answer =
              e.messages().stream()
                  .filter(Envelope::hasInitializeResponse)
                  .findFirst()
                  .orElseThrow()
                  .getInitializeResponse();
          all &=
              answer.getOk()
                  || (answer.getStatus() == ReplicaStatus.RECOVERING
                      && answer.getClusterId().equals(log));
        }
        initialized = all;
      }
      default -> fail("initialize run again found " + d.verdict() + ": " + d.message());
    }
  }

  private void drive(SimWriter w) {
    Coordinator c = w.coordinator;
    switch (c.status()) {
      case IDLE -> {
        if (now >= w.backoffUntil && (faults || w == writers.get(0))) {
          apply(w, c.elect());
        }
      }
      case WRITING -> {
        if (!faults) {
          return;
        }
        int n = rnd.nextInt(4);
        for (int i = 0; i < n; i++) {
          String payload = "w" + w.node + "." + Long.toHexString(w.instance) + "." + (w.seq++);
          long p = c.append(ByteString.copyFromUtf8(payload));
          if (p < 0) {
            break;
          }
          proposed.add(payload);
          w.pending.put(p, payload);
        }
        if (rnd.nextInt(40) == 0 && c.committedThrough() > 5) {
          c.truncate(c.committedThrough() - rnd.nextInt(5));
        }
        apply(w, c.flush());
      }
      case SUPERSEDED -> {
        if (now >= w.backoffUntil) {
          w.fresh(); // the superseded writer process restarts, as a fenced master would
        }
      }
      default -> {}
    }
  }

  private void read() {
    SimReplica r = replicas.get(rnd.nextInt(replicas.size()));
    long from = 1 + rnd.nextInt(50);
    send(
        Envelope.newBuilder()
            .setFrom(READER)
            .setTo(r.id)
            .setFetchRequest(
                FetchRequest.newBuilder()
                    .setFrom(from)
                    .setTo(from + 20)
                    .setLearnedOnly(true)
                    .setMaxActions(20))
            .build());
  }

  private void injectFaults() {
    if (rnd.nextDouble() < options.crashRate()) {
      SimReplica r = replicas.get(rnd.nextInt(replicas.size()));
      if (r.up()) {
        r.storage.crash();
        r.deferred.clear();
        r.downUntil = now + 1 + rnd.nextInt(80);
        crashes++;
        note("crash replica " + r.id);
      }
    }
    if (rnd.nextDouble() < options.crashBeforeSyncRate()) {
      // The worst moment to crash: something was written but not synced (and its reply may be out).
      for (SimReplica r : replicas) {
        if (r.up() && r.storage.hasUnsynced()) {
          r.storage.crash();
          r.deferred.clear();
          r.downUntil = now + 1 + rnd.nextInt(20);
          crashes++;
          note("crash replica " + r.id + " with unsynced writes");
          break;
        }
      }
    }
    // At most one replica without its data at a time: "a quorum keeps its disk".
    if (rnd.nextDouble() < options.wipeRate()
        && replicas.stream()
            .allMatch(x -> x.up() && x.core.replicaStatus() == ReplicaStatus.VOTING)) {
      // Prefer a replica that holds values not yet learned: losing those is what recovery must
      // survive.
      SimReplica r = replicas.get(rnd.nextInt(replicas.size()));
      for (SimReplica x : replicas) {
        if (x.core.status().getEnd() > x.core.status().getLearnedThrough() && rnd.nextBoolean()) {
          r = x;
          break;
        }
      }
      r.storage.wipe();
      r.deferred.clear();
      r.checkedThrough = 0;
      r.downUntil = now + rnd.nextInt(40);
      wipes++;
      note("wipe replica " + r.id);
    }
    if (rnd.nextDouble() < options.writerCrashRate()) {
      SimWriter w = writers.get(rnd.nextInt(writers.size()));
      if (w.up()) {
        w.downUntil = now + 1 + rnd.nextInt(100);
        note("crash writer " + w.node);
      }
    }
    if (rnd.nextDouble() < options.partitionRate()) {
      if (rnd.nextInt(4) == 0) {
        cut.clear();
        note("heal partitions");
      } else {
        long a = node(rnd.nextInt(replicas.size() + writers.size()));
        long b = node(rnd.nextInt(replicas.size() + writers.size()));
        if (a != b) {
          cut.add(link(a, b));
          note("cut " + a + " <-> " + b);
        }
      }
    }
  }

  private long node(int i) {
    return i < replicas.size() ? i : writers.get(i - replicas.size()).node;
  }

  private static long link(long a, long b) {
    return Math.min(a, b) * 10_000 + Math.max(a, b);
  }

  private void restartDue() {
    for (SimReplica r : replicas) {
      if (!r.up() && now >= r.downUntil) {
        r.start();
        note("restart replica " + r.id + " as " + r.core.replicaStatus());
      }
    }
    for (SimWriter w : writers) {
      if (!w.up() && now >= w.downUntil) {
        w.downUntil = -1;
        w.fresh();
        note("restart writer " + w.node);
      }
    }
  }

  private void heal() {
    faults = false;
    cut.clear();
    note("faults stop");
    for (SimReplica r : replicas) {
      if (!r.up()) {
        r.downUntil = now;
      }
    }
    // One writer finishes the run, as one master would after the Lease settles.
    for (int i = 1; i < writers.size(); i++) {
      writers.get(i).downUntil = Long.MAX_VALUE;
    }
    SimWriter w = writers.get(0);
    if (!w.up()) {
      w.downUntil = now;
    }
  }

  // ---- the network --------------------------------------------------------------------------

  private void send(Envelope e) {
    if (faults && rnd.nextDouble() < options.drop()) {
      return;
    }
    int copies = faults && rnd.nextDouble() < options.duplicate() ? 2 : 1;
    for (int i = 0; i < copies; i++) {
      long delay = 1 + (faults ? rnd.nextInt(options.maxDelay()) : rnd.nextInt(3));
      network.add(new Packet(now + delay, rnd.nextLong(), e, now + DEADLINE));
    }
  }

  private void deliver(Packet p) {
    Envelope e = p.envelope();
    if (cut.contains(link(e.getFrom(), e.getTo()))) {
      return;
    }
    long to = e.getTo();
    if (to < replicas.size()) {
      SimReplica r = replicas.get((int) to);
      if (!r.up() || now > p.deadline()) {
        return; // a down replica hears nothing; an expired request is dropped, as gRPC's deadline
        // does
      }
      if (options.groupCommit() && !ReplicaCore.readsStorage(e)) {
        r.deferred.add(r.core.handle(e));
      } else {
        commit(r);
        apply(r, r.core.handle(e));
      }
    } else if (to == READER) {
      checkRead(e);
    } else {
      for (SimWriter w : writers) {
        if (w.node == to && w.up()) {
          apply(w, w.coordinator.handle(e));
        }
      }
    }
  }

  // ---- applying effects, with the checks ----------------------------------------------------

  /** Writes a replica's deferred effects in one go, then sends their messages (group commit). */
  private void commit(SimReplica r) {
    if (r.deferred.isEmpty()) {
      return;
    }
    Effects all = new Effects();
    r.deferred.forEach(all::addAll); // apply() writes every persist before it sends any message
    r.deferred.clear();
    apply(r, all);
  }

  private void apply(SimReplica r, Effects effects) {
    for (Effects.Persist p : effects.persist()) {
      r.storage.apply(p);
      for (Action a : p.actions()) {
        if (a.getLearned()) {
          checkLearned(r.id, a);
        }
      }
    }
    // Up to its learned point a replica stores actions as accepted; what it learned there is what
    // it holds.
    long learned = r.core.status().getLearnedThrough();
    long begin = r.core.status().getBegin();
    for (long p = Math.max(r.checkedThrough + 1, begin); p <= learned; p++) {
      Action a = r.storage.all().get(p);
      if (a == null) {
        fail("replica " + r.id + " has learned through " + learned + " but holds nothing at " + p);
      }
      checkLearned(r.id, a);
    }
    r.checkedThrough = Math.max(r.checkedThrough, learned);

    for (Envelope m : effects.messages()) {
      boolean vote =
          (m.hasPromiseResponse() && m.getPromiseResponse().getOk())
              || (m.hasWriteResponse() && m.getWriteResponse().getOk());
      if (vote && r.core.replicaStatus() != ReplicaStatus.VOTING) {
        fail("replica " + r.id + " voted while " + r.core.replicaStatus());
      }
      send(m);
    }
  }

  private void apply(SimWriter w, Effects effects) {
    for (Envelope m : effects.messages()) {
      send(m);
    }
    for (Event ev : effects.events()) {
      if (ev instanceof Event.Committed c) {
        String payload = w.pending.remove(c.position());
        if (payload != null) {
          checkCommitted(w, c.position(), payload);
        }
      } else if (ev instanceof Event.Elected el) {
        elections.add(el);
        note(
            "writer "
                + w.node
                + " elected "
                + Ballots.toString(el.ballot())
                + " ending "
                + el.ending());
      } else if (ev instanceof Event.ElectionFailed f) {
        w.backoffUntil = now + 5 + rnd.nextInt(60);
      } else if (ev instanceof Event.Superseded s) {
        note("writer " + w.node + " superseded by " + Ballots.toString(s.promised()));
        w.pending.clear();
        w.backoffUntil = now + 5 + rnd.nextInt(60);
      }
    }
  }

  private void checkLearned(int replica, Action a) {
    long p = a.getPosition();
    Action first = chosen.putIfAbsent(p, a);
    if (first != null && !sameValue(first, a)) {
      fail(
          "two values learned at position "
              + p
              + ": "
              + show(first)
              + " and "
              + show(a)
              + " (replica "
              + replica
              + ")");
    }
    String ack = acked.get(p);
    if (ack != null
        && !(a.getType() == ActionType.APPEND && a.getPayload().toStringUtf8().equals(ack))) {
      fail(
          "position "
              + p
              + " was committed as "
              + ack
              + " but replica "
              + replica
              + " learned "
              + show(a));
    }
  }

  private void checkCommitted(SimWriter w, long position, String payload) {
    Ballot b = w.coordinator.ballot();
    for (Event.Elected e : elections) {
      if (Ballots.greater(e.ballot(), b) && e.ending() < position) {
        fail(
            "writer "
                + w.node
                + " ("
                + Ballots.toString(b)
                + ") committed "
                + position
                + " after "
                + Ballots.toString(e.ballot())
                + " was elected ending at "
                + e.ending());
      }
    }
    String before = acked.putIfAbsent(position, payload);
    if (before != null && !before.equals(payload)) {
      fail("position " + position + " committed twice: " + before + " and " + payload);
    }
    Action learned = chosen.get(position);
    if (learned != null
        && !(learned.getType() == ActionType.APPEND
            && learned.getPayload().toStringUtf8().equals(payload))) {
      fail(
          "position " + position + " committed as " + payload + " but learned as " + show(learned));
    }
    committedCount++;
  }

  private void checkRead(Envelope e) {
    if (!e.hasFetchResponse()) {
      return;
    }
    for (Action a : e.getFetchResponse().getActionsList()) {
      if (!a.getLearned()) {
        fail("a reader was given an unlearned action at " + a.getPosition());
      }
      Action c = chosen.get(a.getPosition());
      if (c == null || !sameValue(c, a)) {
        fail(
            "a reader was given "
                + show(a)
                + " at "
                + a.getPosition()
                + " but the chosen value is "
                + (c == null ? "unknown" : show(c)));
      }
    }
  }

  // ---- the end ------------------------------------------------------------------------------

  private boolean converged(long marker) {
    for (SimReplica r : replicas) {
      if (!r.up()
          || r.core.replicaStatus() != ReplicaStatus.VOTING
          || r.core.status().getLearnedThrough() < marker) {
        return false;
      }
    }
    return true;
  }

  private void finalChecks() {
    long begin = replicas.stream().mapToLong(r -> r.core.status().getBegin()).max().orElse(1);
    TreeMap<Long, Action> log = null;
    for (SimReplica r : replicas) {
      TreeMap<Long, Action> mine = new TreeMap<>(r.storage.all().tailMap(begin, true));
      for (Map.Entry<Long, String> ack : acked.entrySet()) {
        if (ack.getKey() < begin) {
          continue;
        }
        Action a = mine.get(ack.getKey());
        boolean learned =
            a != null && (a.getLearned() || ack.getKey() <= r.core.status().getLearnedThrough());
        if (!learned || !a.getPayload().toStringUtf8().equals(ack.getValue())) {
          fail(
              "replica "
                  + r.id
                  + " lost committed "
                  + ack.getValue()
                  + " at "
                  + ack.getKey()
                  + ": has "
                  + (a == null ? "nothing" : show(a)));
        }
      }
      if (log == null) {
        log = mine;
      }
    }
    Map<String, Long> seen = new HashMap<>();
    Map<String, Long> lastSeqOfInstance = new HashMap<>();
    for (Action a : log.values()) {
      if (a.getType() != ActionType.APPEND) {
        continue;
      }
      String payload = a.getPayload().toStringUtf8();
      if (!proposed.contains(payload)) {
        fail("the log holds " + payload + " at " + a.getPosition() + ", which no writer proposed");
      }
      Long twice = seen.put(payload, a.getPosition());
      if (twice != null) {
        fail(payload + " is in the log twice, at " + twice + " and " + a.getPosition());
      }
      int dot = payload.lastIndexOf('.');
      if (payload.startsWith("w") && dot > 0) {
        String instance = payload.substring(0, dot);
        long seq = Long.parseLong(payload.substring(dot + 1));
        Long prev = lastSeqOfInstance.put(instance, seq);
        if (prev != null && prev >= seq) {
          fail(
              "appends of one writer out of order: "
                  + instance
                  + " seq "
                  + prev
                  + " before "
                  + seq);
        }
      }
    }
  }

  // ---- helpers ------------------------------------------------------------------------------

  private static boolean sameValue(Action a, Action b) {
    return a.getType() == b.getType()
        && a.getPayload().equals(b.getPayload())
        && a.getTruncateTo() == b.getTruncateTo();
  }

  private static String show(Action a) {
    return a.getType()
        + (a.getType() == ActionType.APPEND ? "(" + a.getPayload().toStringUtf8() + ")" : "")
        + (a.getType() == ActionType.TRUNCATE ? "(to " + a.getTruncateTo() + ")" : "")
        + "@"
        + Ballots.toString(a.getBallot());
  }

  private String describeReplicas() {
    StringBuilder sb = new StringBuilder();
    for (SimReplica r : replicas) {
      sb.append("\n  ")
          .append(r.id)
          .append(r.up() ? "" : " (down)")
          .append(": ")
          .append(r.core.status().toString().replace('\n', ' '));
    }
    for (SimWriter w : writers) {
      sb.append("\n  writer ")
          .append(w.node)
          .append(": ")
          .append(w.coordinator.status())
          .append(" committed through ")
          .append(w.coordinator.committedThrough());
    }
    return sb.toString();
  }

  private void note(String event) {
    trace.addLast(now + ": " + event);
    if (trace.size() > 40) {
      trace.removeFirst();
    }
  }

  private void fail(String message) {
    throw new Violation(
        "seed "
            + seed
            + ", tick "
            + now
            + ": "
            + message
            + "\n  options: "
            + options
            + "\n  last events:\n    "
            + String.join("\n    ", trace)
            + "\n  replay: ./mvnw -pl replica test -Dtest=LogSimulationTest -Dsim.seed="
            + seed);
  }
}
