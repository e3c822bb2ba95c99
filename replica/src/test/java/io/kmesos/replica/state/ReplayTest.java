package io.kmesos.replica.state;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.StringValue;
import io.kmesos.api.log.v1.ActionType;
import io.kmesos.api.state.v1.Change;
import io.kmesos.api.state.v1.Entry;
import io.kmesos.api.state.v1.SnapshotChunk;
import io.kmesos.api.state.v1.Store;
import io.kmesos.api.state.v1.Variable;
import io.kmesos.replica.client.LogEntry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Recovery of the State's variables from log entries, including what a crashed writer leaves
 * behind.
 */
class ReplayTest {
  final List<LogEntry> log = new ArrayList<>();
  long next = 1;

  void change(long sequence, String name, String value) {
    add(
        Entry.newBuilder()
            .setChange(
                Change.newBuilder()
                    .setSequence(sequence)
                    .addStores(
                        Store.newBuilder().setName(name).setValue(Any.pack(StringValue.of(value)))))
            .build());
  }

  void expunge(long sequence, String name) {
    add(
        Entry.newBuilder()
            .setChange(Change.newBuilder().setSequence(sequence).addExpunged(name))
            .build());
  }

  void chunk(
      long asOf, long asOfPosition, int index, int count, String name, long version, String value) {
    add(
        Entry.newBuilder()
            .setSnapshot(
                SnapshotChunk.newBuilder()
                    .setAsOf(asOf)
                    .setAsOfPosition(asOfPosition)
                    .setIndex(index)
                    .setCount(count)
                    .addVariables(
                        Variable.newBuilder()
                            .setName(name)
                            .setVersion(version)
                            .setValue(Any.pack(StringValue.of(value)))))
            .build());
  }

  void add(Entry e) {
    log.add(new LogEntry(next++, ActionType.APPEND, e.toByteString(), 0));
  }

  static Map<String, String> values(Replay r) {
    Map<String, String> out = new TreeMap<>();
    r.variables.forEach(
        (k, v) -> {
          try {
            out.put(k, v.value().unpack(StringValue.class).getValue() + "@" + v.version());
          } catch (Exception e) {
            throw new AssertionError(e);
          }
        });
    return out;
  }

  @Test
  void changesApplyInOrderAndVersionIsTheChangesSequence() {
    change(1, "a", "1");
    change(2, "b", "2");
    log.add(new LogEntry(next++, ActionType.NOP, ByteString.EMPTY, 0));
    change(3, "a", "3");
    expunge(4, "b");
    Replay r = Replay.replay(1, log);
    assertThat(values(r)).containsExactly(Map.entry("a", "3@3"));
    assertThat(r.sequence).isEqualTo(4);
    assertThat(r.applied).isEqualTo(4);
  }

  @Test
  void aChangeLeftBehindALostOneIsSkippedAndItsSequenceReused() {
    change(1, "a", "1");
    change(3, "a", "orphan"); // a crashed writer's: change 2 never reached the log
    change(2, "a", "2"); // the next writer goes on from change 1
    change(3, "b", "3");
    Replay r = Replay.replay(1, log);
    assertThat(values(r)).containsExactly(Map.entry("a", "2@2"), Map.entry("b", "3@3"));
    assertThat(r.skipped).isEqualTo(1);
  }

  @Test
  void aTruncatedLogStartsFromTheSnapshotItWasTruncatedFor() {
    // Positions 1..9 were truncated away; change 7 was at position 9.
    next = 10;
    change(8, "a", "8"); // after the snapshot's change, before its chunks
    chunk(7, 9, 0, 2, "a", 7, "7");
    chunk(5, 3, 0, 1, "z", 1, "old"); // an older snapshot that was not truncated for
    chunk(7, 9, 1, 2, "b", 4, "4");
    change(9, "c", "9");
    Replay r = Replay.replay(10, log);
    assertThat(values(r))
        .containsExactly(Map.entry("a", "8@8"), Map.entry("b", "4@4"), Map.entry("c", "9@9"));
    assertThat(r.snapshotAsOf).isEqualTo(7);
    assertThat(r.sequence).isEqualTo(9);
  }

  @Test
  void aTruncatedLogWithoutItsCompleteSnapshotIsRefused() {
    next = 10;
    chunk(7, 9, 0, 2, "a", 7, "7");
    change(8, "a", "8");
    assertThatThrownBy(() -> Replay.replay(10, log))
        .isInstanceOf(StateException.class)
        .hasMessageContaining("the log begins at position 10 but holds no complete snapshot");
  }

  @Test
  void anotherKindOfDataIsRefusedNamingThePosition() {
    change(1, "a", "1");
    log.add(new LogEntry(next++, ActionType.APPEND, ByteString.copyFromUtf8("hello world"), 0));
    assertThatThrownBy(() -> Replay.replay(1, log))
        .isInstanceOf(StateException.class)
        .hasMessageContaining("position 2 is not a State entry (11 bytes)");
  }
}
