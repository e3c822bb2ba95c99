package io.kmesos.registry;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import io.kmesos.api.admin.ProcessMetrics;
import io.kmesos.api.registry.v1.Framework;
import io.kmesos.api.registry.v1.MasterInfo;
import io.kmesos.api.registry.v1.Operation;
import io.kmesos.api.registry.v1.RecordMaster;
import io.kmesos.api.registry.v1.Registry;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.client.Writer;
import io.kmesos.replica.state.State;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The master's registrar (Mesos {@code src/master/registrar.cpp}): the only writer of the registry.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>Start: it elects itself the log's writer (fencing every earlier registrar), recovers the
 *       registry from the log, and records its master as the leading one before it applies anything
 *       else.
 *   <li>Operations are applied in batches: everything that arrives while a store is in flight goes
 *       into the next store (up to a log entry's size), which is one atomic log entry. Each caller
 *       gets its own result: true (changed), false (already so) or {@link
 *       OperationRefusedException} (does not apply; nothing of it is stored) without affecting the
 *       others in its batch.
 *   <li>A store holds only the entries its operations changed, so its cost does not grow with the
 *       registry's size (Mesos stores the whole registry every time).
 *   <li>Once its store fails (another registrar was elected, or the log lost its quorum) it stops
 *       for good: every pending and later operation fails with that error, the refused ones of the
 *       failed batch included (a refusal may rest on a batch-mate's change that was never stored,
 *       e.g. a second admission of an ID the batch admitted). The process should then give up
 *       mastership; a new registrar recovers what was committed.
 * </ul>
 */
public final class Registrar implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Registrar.class);

  private record Pending(Operation op, CompletableFuture<Boolean> done) {}

  private final Storage storage;
  private final RegistryContents contents;
  private final ArrayDeque<Pending> queue = new ArrayDeque<>();
  private boolean storing;
  private volatile RuntimeException failure;

  /** Why new operations are refused ({@link #stopAccepting}), or null while they are taken. */
  private String refusing;

  /** Completes once refusing and no store is in flight (see {@link #stopAccepting}). */
  private final CompletableFuture<Void> drained = new CompletableFuture<>();

  private final List<Consumer<RuntimeException>> failureListeners = new ArrayList<>();
  private final MeterRegistry metrics;
  private final Timer storeLatency;
  private final List<Meter> gauges = new ArrayList<>();

  private Registrar(Storage storage, MeterRegistry metrics) {
    this.storage = storage;
    this.metrics = metrics;
    // Mesos's registrar/state_fetch_ms: reading the registry back when this master starts.
    Timer fetch =
        ProcessMetrics.latency(
            metrics,
            "kmesos.registrar.state.fetch",
            "Recovering the registry from the log when this master started (Mesos registrar/state_fetch_ms)");
    long started = System.nanoTime();
    this.contents = storage.recover();
    fetch.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
    // Mesos's registrar/state_store_ms: one batch of operations, from its store to its commit.
    this.storeLatency =
        ProcessMetrics.latency(
            metrics,
            "kmesos.registrar.state.store",
            "Storing one batch of operations in the log until committed (Mesos registrar/state_store_ms)");
    gauges.add(
        Gauge.builder("kmesos.registrar.queued.operations", this, Registrar::queued)
            .description(
                "Operations waiting for the next batch (Mesos registrar/queued_operations)")
            .strongReference(true)
            .register(metrics));
    gauges.add(
        Gauge.builder("kmesos.registrar.registry.size", this, Registrar::bytes)
            .baseUnit("bytes")
            .description("The registry's entries, serialized (Mesos registrar/registry_size_bytes)")
            .strongReference(true)
            .register(metrics));
  }

  /**
   * Becomes the registry's writer on {@code logClient}, recovers the registry and records {@code
   * master} as the leading master. Blocks until done.
   */
  public static Registrar start(Log logClient, MasterInfo master, State.Settings settings)
      throws InterruptedException, TimeoutException {
    return start(logClient, master, settings, ProcessMetrics.none());
  }

  /**
   * As {@link #start(Log, MasterInfo, State.Settings)}, measured in {@code metrics}
   * (docs/operations.md).
   */
  public static Registrar start(
      Log logClient, MasterInfo master, State.Settings settings, MeterRegistry metrics)
      throws InterruptedException, TimeoutException {
    return start(
        new StateStorage(State.open(logClient, settings.writtenBy(master.getId()))),
        master,
        settings.recoveryTimeout(),
        metrics);
  }

  public static Registrar start(Log logClient, MasterInfo master)
      throws InterruptedException, TimeoutException {
    return start(logClient, master, State.Settings.DEFAULT);
  }

  /**
   * A registrar that stores the whole registry on every change, as Mesos does: the benchmarks'
   * baseline, never for production.
   */
  public static Registrar startWholeRegistry(Log logClient, MasterInfo master, Duration timeout)
      throws Exception {
    return start(new WholeRegistryStorage(logClient, timeout), master, timeout);
  }

  static Registrar start(Storage storage, MasterInfo master, Duration timeout)
      throws InterruptedException, TimeoutException {
    return start(storage, master, timeout, ProcessMetrics.none());
  }

  static Registrar start(
      Storage storage, MasterInfo master, Duration timeout, MeterRegistry metrics)
      throws InterruptedException, TimeoutException {
    Registrar r;
    try {
      r = new Registrar(storage, metrics);
    } catch (RuntimeException e) {
      storage.close();
      throw e;
    }
    try {
      r.apply(
              Operation.newBuilder()
                  .setRecordMaster(RecordMaster.newBuilder().setInfo(master))
                  .build())
          .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      r.close();
      throw State.unwrap(e);
    } catch (InterruptedException | TimeoutException | RuntimeException e) {
      r.close();
      throw e;
    }
    log.info(
        "registrar: master {} recovered the registry at version {} ({} entries; {}) in {} ms",
        master.getId(),
        r.version(),
        r.size(),
        storage.recoveredSummary(),
        storage.recoveryMillis());
    return r;
  }

  /**
   * Applies {@code op} in the next batch. Completes with true once its change is committed, false
   * if the registry already was as asked, or fails with {@link OperationRefusedException} if it
   * does not apply, or with the registrar's failure.
   */
  public CompletableFuture<Boolean> apply(Operation op) {
    CompletableFuture<Boolean> done = new CompletableFuture<>();
    if (op.getSerializedSize() > MAX_BATCH_OPERATION_BYTES) {
      // It could not be stored (a log entry holds the operation and what it changes).
      done.completeExceptionally(
          Validation.refused(
              "the operation has "
                  + op.getSerializedSize()
                  + " bytes; one operation may have at most "
                  + MAX_BATCH_OPERATION_BYTES
                  + " bytes"));
      return done;
    }
    synchronized (this) {
      if (failure != null) {
        done.completeExceptionally(failure);
        return done;
      }
      if (refusing != null) {
        done.completeExceptionally(new IllegalStateException(refusing));
        return done;
      }
      queue.add(new Pending(op, done));
      if (storing) {
        return done; // goes out with the next batch
      }
      storing = true;
    }
    storeNext();
    return done;
  }

  /**
   * The most operation bytes one batch takes. A batch is one log entry holding every changed entry
   * and every operation (about twice the operations' size), and a log entry holds at most {@link
   * Writer#MAX_ENTRY_BYTES}: a larger backlog is stored as several batches, one after another.
   */
  static final int MAX_BATCH_OPERATION_BYTES = Writer.MAX_ENTRY_BYTES / 4;

  /**
   * Takes queued operations, oldest first, up to {@link #MAX_BATCH_OPERATION_BYTES} (at least one).
   */
  private List<Pending> takeBatch() {
    List<Pending> batch = new ArrayList<>();
    long bytes = 0;
    while (!queue.isEmpty()) {
      int size = queue.peek().op().getSerializedSize();
      if (!batch.isEmpty() && bytes + size > MAX_BATCH_OPERATION_BYTES) {
        break;
      }
      batch.add(queue.poll());
      bytes += size;
    }
    return batch;
  }

  /**
   * Takes the queued operations and stores their changes as one entry; repeats while more arrive.
   */
  private void storeNext() {
    while (true) {
      List<Pending> batch;
      Transaction changes;
      List<Any> causes = new ArrayList<>();
      List<Runnable> answers = new ArrayList<>();
      long version;
      synchronized (this) {
        if (queue.isEmpty() || failure != null) {
          storing = false;
          if (refusing != null) {
            drained.complete(null);
          }
          return;
        }
        batch = takeBatch();
        changes = new Transaction(contents);
        for (Pending p : batch) {
          Transaction own = new Transaction(changes);
          try {
            boolean changed = Operations.apply(p.op(), own);
            own.mergeInto(changes);
            if (changed) {
              causes.add(Any.pack(p.op()));
            }
            answers.add(() -> p.done().complete(changed));
          } catch (OperationRefusedException e) {
            answers.add(() -> p.done().completeExceptionally(e));
          }
        }
        version = contents.version() + 1;
      }
      if (changes.isEmpty()) {
        answers.forEach(Runnable::run);
        continue;
      }
      CompletableFuture<Void> stored;
      long storeStarted = System.nanoTime();
      try {
        stored = storage.store(contents, changes, causes, version);
      } catch (RuntimeException e) {
        stored = CompletableFuture.failedFuture(e);
      }
      stored.whenComplete(
          (ok, error) -> {
            if (error != null) {
              fail(State.unwrap(error), batch);
              return;
            }
            storeLatency.record(System.nanoTime() - storeStarted, TimeUnit.NANOSECONDS);
            synchronized (this) {
              contents.apply(changes, version);
            }
            answers.forEach(Runnable::run);
            storeNext();
          });
      return;
    }
  }

  /**
   * Takes no more operations: every later {@link #apply}, and every queued one not yet in a store,
   * fails with {@code why} (an {@link IllegalStateException}; the registrar itself has not failed).
   * The store in flight, if any, goes on. A master that is being stopped calls it before it hands
   * the Lease over, so that nothing more is acknowledged by it once another master may be writing.
   *
   * @return completes once no store is in flight any more (its batch committed, or failed)
   */
  public CompletableFuture<Void> stopAccepting(String why) {
    List<Pending> dropped;
    synchronized (this) {
      if (refusing == null) {
        refusing = why;
      }
      dropped = new ArrayList<>(queue);
      queue.clear();
      if (!storing) {
        drained.complete(null);
      }
    }
    IllegalStateException refused = new IllegalStateException(why);
    dropped.forEach(p -> p.done().completeExceptionally(refused));
    return drained;
  }

  private void fail(RuntimeException why, List<Pending> inFlight) {
    List<Pending> all = new ArrayList<>(inFlight);
    synchronized (this) {
      if (failure == null) {
        failure = why;
        if (refusing != null) {
          // Its master is being stopped and may have handed the Lease over already: a store that
          // the next master's election fenced is the expected end, not an error.
          log.info(
              "registrar: storing failed while stopping ({}), the registrar stops: {}",
              refusing,
              why.getMessage());
        } else {
          log.error("registrar: storing failed, the registrar stops: {}", why.getMessage());
        }
      }
      all.addAll(queue);
      queue.clear();
      storing = false;
      if (refusing != null) {
        drained.complete(null);
      }
    }
    all.forEach(p -> p.done().completeExceptionally(failure));
    List<Consumer<RuntimeException>> listeners;
    synchronized (this) {
      listeners = new ArrayList<>(failureListeners);
      failureListeners.clear();
    }
    listeners.forEach(l -> l.accept(failure));
  }

  // ---- reads ------------------------------------------------------------------------------------

  /** The registry as committed (O(entries): for tools and tests). */
  public synchronized Registry registry() {
    return contents.toProto();
  }

  /** The committed registry entry stored under {@code name} ({@link Names}), or null. */
  public synchronized <T extends Message> T entry(String name, Class<T> type) {
    return contents.get(name, type);
  }

  /** Every committed entry whose name starts with {@code prefix}, in name order (a copy). */
  public synchronized NavigableMap<String, Message> entries(String prefix) {
    return new TreeMap<>(contents.withPrefix(prefix));
  }

  /**
   * The committed frameworks, in ID order: what a master that just started hands its core ({@code
   * MasterCore.recoverFrameworks}).
   */
  public synchronized List<Framework> frameworks() {
    List<Framework> out = new ArrayList<>();
    for (Message m : contents.withPrefix(Names.FRAMEWORKS).values()) {
      out.add((Framework) m);
    }
    return out;
  }

  /**
   * Calls {@code listener} (once, on some thread) when the registrar stops because a store failed;
   * at once if it already has. A master uses it to give up mastership.
   */
  public void onFailure(Consumer<RuntimeException> listener) {
    boolean now;
    synchronized (this) {
      now = failure != null;
      if (!now) {
        failureListeners.add(listener);
      }
    }
    if (now) {
      listener.accept(failure);
    }
  }

  /** The number of changes committed so far. */
  public synchronized long version() {
    return contents.version();
  }

  public synchronized int size() {
    return contents.size();
  }

  /** The registry's entries, serialized ({@link RegistryContents#bytes()}). */
  public synchronized long bytes() {
    return contents.bytes();
  }

  /** Operations waiting for the next batch (the one in flight not counted). */
  public synchronized int queued() {
    return queue.size();
  }

  /** Why the registrar stopped, or null while it works. */
  public RuntimeException failure() {
    return failure;
  }

  /** Bytes this registrar appended to the log so far (changes and snapshots). */
  public long appendedBytes() {
    return storage.appendedBytes();
  }

  /** How long recovering the registry took when this registrar started. */
  public long recoveryMillis() {
    return storage.recoveryMillis();
  }

  @Override
  public void close() {
    storage.close();
    gauges.forEach(metrics::remove); // they read this registrar; a later one registers its own
  }
}
