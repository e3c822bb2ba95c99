package io.kmesos.replica.state;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.kmesos.api.cli.Failures;
import io.kmesos.api.state.v1.Change;
import io.kmesos.api.state.v1.Entry;
import io.kmesos.api.state.v1.SnapshotChunk;
import io.kmesos.api.state.v1.Store;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.client.Writer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Versioned variables on the replicated log, with the semantics of Mesos {@code State}: {@link
 * #fetch} returns a variable with its version (an empty one, version 0, if absent); a store
 * succeeds only if none of its variables changed since they were fetched, and otherwise reports the
 * conflict ({@code false}) without writing anything; {@link #names} lists what exists.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>A store is one log entry: all of its variables change, or none. Its future completes once
 *       the entry is committed (on a quorum's disks).
 *   <li>Only the log's current writer stores: opening a State elects a writer, which fences every
 *       earlier one. A State whose writer was superseded, or lost its quorum, fails every later
 *       call with that error and must be replaced (open a new one, which recovers).
 *   <li>Recovery reads one snapshot plus the changes after it: after enough changes (see {@link
 *       Settings}) the State appends a snapshot of every variable and then truncates the log before
 *       it, so the log stays about as large as the state itself.
 *   <li>Changes are pipelined: a store does not wait for the previous one. Each carries a sequence
 *       number, and recovery applies a change only if it follows the last one applied, so a change
 *       that a crashed writer left behind a lost one (and never reported committed) is skipped.
 * </ul>
 *
 * Thread-safe. The log layout is in {@code state.proto} and docs/registry.md.
 */
public final class State implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(State.class);

  /** A variable and the version it had when fetched (0: it does not exist). */
  public record Variable(String name, long version, Any value) {
    public boolean exists() {
      return version > 0;
    }

    /** The same variable with a new value, to store. */
    public Variable with(Any newValue) {
      return new Variable(name, version, newValue);
    }
  }

  /**
   * When to snapshot: once the changes since the last snapshot hold more bytes than the state
   * itself (and at least {@code minSnapshotBytes}), or number more than {@code
   * maxChangesBetweenSnapshots}. So snapshots cost at most about as much as the changes they
   * replace, and recovery reads at most about twice the state's size. {@code electionDeadline}: how
   * long {@link #open} keeps trying to become the log's writer, so that a State opened while
   * replicas restart waits for them.
   */
  public record Settings(
      long minSnapshotBytes,
      int maxChangesBetweenSnapshots,
      int snapshotChunkBytes,
      Duration recoveryTimeout,
      Duration electionDeadline,
      String writer) {
    private static final Duration DEFAULT_ELECTION_DEADLINE = Duration.ofSeconds(60);
    public static final Settings DEFAULT =
        new Settings(
            4L << 20, 100_000, 512 << 10, Duration.ofSeconds(30), DEFAULT_ELECTION_DEADLINE, "");

    public Settings(
        long minSnapshotBytes,
        int maxChangesBetweenSnapshots,
        int snapshotChunkBytes,
        Duration recoveryTimeout) {
      this(
          minSnapshotBytes,
          maxChangesBetweenSnapshots,
          snapshotChunkBytes,
          recoveryTimeout,
          DEFAULT_ELECTION_DEADLINE,
          "");
    }

    /** The same settings, with every change recorded as written by {@code writer}. */
    public Settings writtenBy(String writer) {
      return new Settings(
          minSnapshotBytes,
          maxChangesBetweenSnapshots,
          snapshotChunkBytes,
          recoveryTimeout,
          electionDeadline,
          writer);
    }

    /**
     * The same settings, with {@link #open} trying to become the writer for at most {@code
     * deadline}.
     */
    public Settings withElectionDeadline(Duration deadline) {
      return new Settings(
          minSnapshotBytes,
          maxChangesBetweenSnapshots,
          snapshotChunkBytes,
          recoveryTimeout,
          deadline,
          writer);
    }
  }

  /**
   * An atomic batch: variables to store and to expunge (each at the version it was fetched), and
   * why.
   */
  public record Batch(List<Variable> stores, List<Variable> expunges, List<Any> causes) {
    public Batch {
      stores = List.copyOf(stores);
      expunges = List.copyOf(expunges);
      causes = List.copyOf(causes);
    }
  }

  private final Log logClient;
  private final Writer writer;
  private final Settings settings;
  private final ExecutorService snapshotter =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "state-snapshot");
            t.setDaemon(true);
            return t;
          });

  private final Map<String, Variable> variables = new HashMap<>();
  private long sequence;
  private long stateBytes;
  private long bytesSinceSnapshot;
  private int changesSinceSnapshot;
  private boolean snapshotting;
  private CompletableFuture<Long> lastChange = CompletableFuture.completedFuture(0L);
  private volatile RuntimeException failure;
  private final Recovered recovered;

  /** What recovery found, for logs and tools. */
  public record Recovered(
      long begin,
      long ending,
      long snapshotAsOf,
      int changesApplied,
      int changesSkipped,
      long bytesRead,
      long millis) {}

  private State(Log logClient, Writer writer, Settings settings, Recovered recovered) {
    this.logClient = logClient;
    this.writer = writer;
    this.settings = settings;
    this.recovered = recovered;
  }

  /**
   * Elects a writer on {@code logClient} (fencing every earlier one) and recovers the variables
   * from the log. Blocks until done.
   *
   * @throws StateException if the log holds something that is not this State's data, or was
   *     truncated without a complete snapshot
   */
  public static State open(Log logClient, Settings settings)
      throws InterruptedException, TimeoutException {
    Writer writer =
        logClient.writer(Writer.Settings.DEFAULT.withElectionDeadline(settings.electionDeadline()));
    try {
      // The writer gives up at its own deadline with a clear error; the margin only bounds a hang.
      long ending;
      try {
        ending = get(writer.elect(), settings.electionDeadline().plusSeconds(10));
      } catch (RuntimeException | TimeoutException e) {
        log.warn(
            "state: election of {} as the log's writer lost: {}",
            settings.writer(),
            Failures.oneLine(e));
        throw e;
      }
      log.info(
          "state: {} elected the log's writer; the log ends at position {}",
          settings.writer(),
          ending);
      long started = System.nanoTime();
      Replay replay = Replay.read(logClient.reader(), ending, settings.recoveryTimeout());
      Recovered recovered =
          new Recovered(
              replay.begin,
              ending,
              replay.snapshotAsOf,
              replay.applied,
              replay.skipped,
              replay.bytes,
              (System.nanoTime() - started) / 1_000_000);
      State state = new State(logClient, writer, settings, recovered);
      state.variables.putAll(replay.variables);
      state.sequence = replay.sequence;
      state.stateBytes = replay.variables.values().stream().mapToLong(State::sizeOf).sum();
      state.bytesSinceSnapshot = replay.bytesSinceSnapshot;
      state.changesSinceSnapshot = replay.changesSinceSnapshot;
      log.info(
          "state recovered: {} variables at change {} from positions {}..{} ({} changes applied, {} skipped, "
              + "{} bytes) in {} ms",
          state.variables.size(),
          state.sequence,
          replay.begin,
          ending,
          replay.applied,
          replay.skipped,
          replay.bytes,
          recovered.millis());
      return state;
    } catch (RuntimeException | InterruptedException | TimeoutException e) {
      writer.close();
      throw e;
    }
  }

  public static State open(Log logClient) throws InterruptedException, TimeoutException {
    return open(logClient, Settings.DEFAULT);
  }

  /** The variables as a reader sees them, and what reading them took. */
  public record Contents(long sequence, List<Variable> variables, Recovered recovered) {}

  /**
   * Reads the variables as committed (learned) now, without becoming the writer: for tools, which
   * must never depose the master.
   */
  public static Contents read(Log logClient, Duration timeout)
      throws InterruptedException, TimeoutException {
    long started = System.nanoTime();
    var reader = logClient.reader();
    long ending = reader.ending();
    Replay replay = Replay.read(reader, ending, timeout);
    return new Contents(
        replay.sequence,
        new ArrayList<>(replay.variables.values()),
        new Recovered(
            replay.begin,
            ending,
            replay.snapshotAsOf,
            replay.applied,
            replay.skipped,
            replay.bytes,
            (System.nanoTime() - started) / 1_000_000));
  }

  // ---- reads ----------------------------------------------------------------------------------

  /** The variable as last stored by this State (an empty one, version 0, if absent). */
  public synchronized Variable fetch(String name) {
    checkAlive();
    Variable v = variables.get(name);
    return v != null ? v : new Variable(name, 0, Any.getDefaultInstance());
  }

  public synchronized Set<String> names() {
    checkAlive();
    return new TreeSet<>(variables.keySet());
  }

  /** Every variable, as last stored (a copy). */
  public synchronized List<Variable> all() {
    checkAlive();
    return new ArrayList<>(variables.values());
  }

  /**
   * The number of changes stored so far: the version the next change's variables will get, minus
   * one.
   */
  public synchronized long sequence() {
    return sequence;
  }

  public Recovered recovered() {
    return recovered;
  }

  /** Bytes this State appended to the log so far: changes, snapshots. */
  public long appendedBytes() {
    return writer.appendedBytes();
  }

  // ---- writes ---------------------------------------------------------------------------------

  /**
   * Stores one variable: {@code true} once committed, {@code false} if it changed since it was
   * fetched.
   */
  public CompletableFuture<Boolean> store(Variable v) {
    return apply(new Batch(List.of(v), List.of(), List.of()));
  }

  /**
   * Expunges one variable: {@code true} once committed, {@code false} if it changed since it was
   * fetched.
   */
  public CompletableFuture<Boolean> expunge(Variable v) {
    return apply(new Batch(List.of(), List.of(v), List.of()));
  }

  /**
   * Stores and expunges atomically. {@code false} (and nothing written) if any variable changed
   * since it was fetched; {@code true} once the change is committed; fails with the writer's error
   * ({@code SupersededException}, {@code UnavailableException}) if it cannot be.
   */
  public synchronized CompletableFuture<Boolean> apply(Batch batch) {
    if (failure != null) {
      return CompletableFuture.failedFuture(failure);
    }
    Set<String> touched = new HashSet<>();
    for (Variable v : concat(batch.stores(), batch.expunges())) {
      if (!touched.add(v.name())) {
        throw new IllegalArgumentException("variable " + v.name() + " appears twice in one batch");
      }
      if (v.name().isEmpty()) {
        throw new IllegalArgumentException("a variable needs a name");
      }
      Variable current = variables.get(v.name());
      if ((current == null ? 0 : current.version()) != v.version()) {
        return CompletableFuture.completedFuture(false);
      }
    }
    long seq = sequence + 1;
    Change.Builder change =
        Change.newBuilder()
            .setSequence(seq)
            .setWriter(settings.writer())
            .addAllCauses(batch.causes());
    for (Variable v : batch.stores()) {
      change.addStores(Store.newBuilder().setName(v.name()).setValue(v.value()));
    }
    for (Variable v : batch.expunges()) {
      change.addExpunged(v.name());
    }
    byte[] entry = Entry.newBuilder().setChange(change).build().toByteArray();
    // Applied in memory now, so that the next store is checked against it; if the append fails,
    // this
    // State fails for good and nobody reads this memory again.
    sequence = seq;
    for (Variable v : batch.stores()) {
      put(new Variable(v.name(), seq, v.value()));
    }
    for (Variable v : batch.expunges()) {
      remove(v.name());
    }
    bytesSinceSnapshot += entry.length;
    changesSinceSnapshot++;
    CompletableFuture<Long> appended = writer.append(entry);
    lastChange = appended;
    CompletableFuture<Boolean> done =
        appended.handle(
            (position, error) -> {
              if (error != null) {
                fail(unwrap(error));
                throw new CompletionException(failure);
              }
              return true;
            });
    maybeSnapshot();
    return done;
  }

  private void put(Variable v) {
    Variable old = variables.put(v.name(), v);
    stateBytes += sizeOf(v) - (old == null ? 0 : sizeOf(old));
  }

  private void remove(String name) {
    Variable old = variables.remove(name);
    if (old != null) {
      stateBytes -= sizeOf(old);
    }
  }

  // ---- snapshots ------------------------------------------------------------------------------

  private void maybeSnapshot() {
    boolean due =
        bytesSinceSnapshot >= Math.max(settings.minSnapshotBytes(), stateBytes)
            || changesSinceSnapshot >= settings.maxChangesBetweenSnapshots();
    if (!due || snapshotting) {
      return;
    }
    snapshotting = true;
    long asOf = sequence;
    List<Variable> copy = new ArrayList<>(variables.values());
    bytesSinceSnapshot = 0;
    changesSinceSnapshot = 0;
    // The snapshot names the position of the change it follows, so it waits for that change's
    // commit.
    lastChange
        .thenAcceptAsync(position -> writeSnapshot(asOf, position, copy), snapshotter)
        .whenComplete(
            (ok, error) -> {
              synchronized (this) {
                snapshotting = false;
              }
              if (error != null) {
                fail(unwrap(error));
              }
            });
  }

  /**
   * Appends the chunks of the snapshot as of change {@code asOf} (at {@code asOfPosition}), then
   * truncates before it.
   */
  private void writeSnapshot(long asOf, long asOfPosition, List<Variable> vars) {
    long started = System.nanoTime();
    List<SnapshotChunk.Builder> chunks = new ArrayList<>();
    SnapshotChunk.Builder chunk = null;
    long bytes = 0;
    for (Variable v : vars) {
      io.kmesos.api.state.v1.Variable pv =
          io.kmesos.api.state.v1.Variable.newBuilder()
              .setName(v.name())
              .setVersion(v.version())
              .setValue(v.value())
              .build();
      if (chunk == null
          || (bytes > 0 && bytes + pv.getSerializedSize() > settings.snapshotChunkBytes())) {
        chunk =
            SnapshotChunk.newBuilder()
                .setAsOf(asOf)
                .setAsOfPosition(asOfPosition)
                .setIndex(chunks.size());
        chunks.add(chunk);
        bytes = 0;
      }
      chunk.addVariables(pv);
      bytes += pv.getSerializedSize();
    }
    if (chunks.isEmpty()) {
      chunks.add(
          SnapshotChunk.newBuilder().setAsOf(asOf).setAsOfPosition(asOfPosition).setIndex(0));
    }
    List<CompletableFuture<Long>> appended = new ArrayList<>();
    long total = 0;
    for (SnapshotChunk.Builder c : chunks) {
      byte[] entry =
          Entry.newBuilder().setSnapshot(c.setCount(chunks.size())).build().toByteArray();
      total += entry.length;
      appended.add(writer.append(entry));
    }
    CompletableFuture.allOf(appended.toArray(CompletableFuture[]::new)).join();
    writer.truncate(asOfPosition + 1).join();
    log.info(
        "state snapshot as of change {} (position {}): {} variables, {} chunks, {} bytes, {} ms; log truncated before {}",
        asOf,
        asOfPosition,
        vars.size(),
        chunks.size(),
        total,
        (System.nanoTime() - started) / 1_000_000,
        asOfPosition + 1);
  }

  // ---- failure --------------------------------------------------------------------------------

  private void fail(RuntimeException why) {
    if (failure == null) {
      failure = why;
      log.warn("state: the log writer failed, this State stops: {}", why.getMessage());
    }
  }

  private void checkAlive() {
    if (failure != null) {
      throw new StateException("this State stopped: " + failure.getMessage(), failure);
    }
  }

  /** Why this State stopped, or null while it works. */
  public RuntimeException failure() {
    return failure;
  }

  @Override
  public void close() {
    snapshotter.shutdownNow();
    writer.close();
  }

  // ---- helpers --------------------------------------------------------------------------------

  static long sizeOf(Variable v) {
    return v.name().length() + v.value().getSerializedSize() + 16L;
  }

  private static List<Variable> concat(Collection<Variable> a, Collection<Variable> b) {
    List<Variable> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }

  /** The error behind a future's wrapping. */
  public static RuntimeException unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t instanceof RuntimeException r ? r : new StateException(t.getMessage(), t);
  }

  private static <T> T get(CompletableFuture<T> f, Duration timeout)
      throws InterruptedException, TimeoutException {
    try {
      return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw unwrap(e);
    }
  }

  /** Decodes one log payload as a State entry; null if it is not one. */
  public static Entry decode(ByteString payload) {
    try {
      Entry entry = Entry.parseFrom(payload);
      return entry.getKindCase() == Entry.KindCase.KIND_NOT_SET
              || !entry.getUnknownFields().asMap().isEmpty()
          ? null
          : entry;
    } catch (InvalidProtocolBufferException e) {
      return null;
    }
  }
}
