package io.kmesos.replica.state;

import io.kmesos.api.log.v1.ActionType;
import io.kmesos.api.state.v1.Change;
import io.kmesos.api.state.v1.Entry;
import io.kmesos.api.state.v1.SnapshotChunk;
import io.kmesos.api.state.v1.Store;
import io.kmesos.api.state.v1.Variable;
import io.kmesos.replica.client.LogEntry;
import io.kmesos.replica.client.Reader;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.TimeoutException;

/**
 * Rebuilds the State's variables from the log: the snapshot the log was truncated for (none when
 * the log was never truncated), then every change after it in order.
 *
 * <p>Guarantees: a change is applied only if its sequence number follows the last one applied. A
 * writer pipelines its changes, so one that crashed may leave a change behind a lost one; that
 * change was never reported committed (commits are reported in order) and built on the lost one, so
 * it is skipped, and the next writer reuses its sequence number. A log that holds other data, or
 * was truncated without a complete snapshot, is refused with a message naming the position.
 */
final class Replay {
  final long begin;
  final Map<String, State.Variable> variables = new HashMap<>();
  long sequence;
  long snapshotAsOf;
  int applied;
  int skipped;
  long bytes;
  long bytesSinceSnapshot;
  int changesSinceSnapshot;

  private Replay(long begin) {
    this.begin = begin;
  }

  /**
   * Waits until the log's learned entries reach {@code ending}, then replays [beginning, ending].
   */
  static Replay read(Reader reader, long ending, Duration timeout)
      throws InterruptedException, TimeoutException {
    long deadline = System.nanoTime() + timeout.toNanos();
    // The writer's election committed everything up to `ending`; replicas learn it moments later.
    while (ending > 0 && reader.ending() < ending) {
      if (System.nanoTime() > deadline) {
        throw new TimeoutException(
            "the replicas did not learn positions up to " + ending + " within " + timeout);
      }
      Thread.sleep(5);
    }
    long begin = reader.beginning();
    return replay(begin, ending == 0 ? List.of() : reader.read(begin, ending));
  }

  /** Replays {@code entries}, which start at the log's beginning {@code begin}. */
  static Replay replay(long begin, List<LogEntry> entries) {
    Replay r = new Replay(begin);
    TreeMap<Long, Entry> decoded = new TreeMap<>();
    for (LogEntry e : entries) {
      r.bytes += e.payload().size();
      if (e.type() == ActionType.APPEND) {
        decoded.put(e.position(), decode(e));
      }
    }
    if (begin > 1) {
      r.loadSnapshot(decoded.values());
    }
    for (Map.Entry<Long, Entry> e : decoded.entrySet()) {
      if (e.getValue().getKindCase() != Entry.KindCase.CHANGE) {
        continue;
      }
      Change c = e.getValue().getChange();
      r.bytesSinceSnapshot += e.getValue().getSerializedSize();
      r.changesSinceSnapshot++;
      if (c.getSequence() <= r.sequence) {
        continue; // already in the snapshot
      }
      if (c.getSequence() != r.sequence + 1) {
        r.skipped++; // left behind a lost change by a writer that crashed: never committed to
        // anyone
        continue;
      }
      r.apply(c);
    }
    return r;
  }

  private void apply(Change c) {
    sequence = c.getSequence();
    for (Store s : c.getStoresList()) {
      variables.put(s.getName(), new State.Variable(s.getName(), sequence, s.getValue()));
    }
    for (String name : c.getExpungedList()) {
      variables.remove(name);
    }
    applied++;
  }

  /** The log begins after the change a snapshot was taken at: load that snapshot. */
  private void loadSnapshot(Iterable<Entry> entries) {
    Map<Long, SnapshotChunk[]> byAsOf = new HashMap<>();
    SnapshotChunk[] complete = null;
    for (Entry e : entries) {
      if (e.getKindCase() != Entry.KindCase.SNAPSHOT
          || e.getSnapshot().getAsOfPosition() != begin - 1) {
        continue;
      }
      SnapshotChunk c = e.getSnapshot();
      SnapshotChunk[] parts =
          byAsOf.computeIfAbsent(c.getAsOf(), k -> new SnapshotChunk[Math.max(1, c.getCount())]);
      if (c.getIndex() < parts.length && parts.length == c.getCount()) {
        parts[c.getIndex()] = c;
      }
      if (Arrays.stream(parts).allMatch(Objects::nonNull)) {
        complete = parts;
      }
    }
    if (complete == null) {
      throw new StateException(
          "the log begins at position "
              + begin
              + " but holds no complete snapshot of the state "
              + "before it; refusing to recover from a partial state");
    }
    snapshotAsOf = complete[0].getAsOf();
    sequence = snapshotAsOf;
    for (SnapshotChunk c : complete) {
      for (Variable v : c.getVariablesList()) {
        variables.put(v.getName(), new State.Variable(v.getName(), v.getVersion(), v.getValue()));
      }
    }
  }

  private static Entry decode(LogEntry e) {
    Entry entry = State.decode(e.payload());
    if (entry == null) {
      throw new StateException(
          "position "
              + e.position()
              + " is not a State entry ("
              + e.payload().size()
              + " bytes); this log holds other data, refusing to use it");
    }
    return entry;
  }
}
