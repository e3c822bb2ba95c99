package io.kmesos.agent.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.kmesos.agent.checkpoint.CheckpointFormat.UpdatesScan;
import io.kmesos.api.agent.v1.AgentRecord;
import io.kmesos.api.agent.v1.BootIdRecord;
import io.kmesos.api.agent.v1.TaskUpdateRecord;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The bytes: every damage to a whole file is detected; an updates file's torn tail is told apart.
 */
class CheckpointFormatTest {
  static final Path FILE = Path.of("/w/meta/agent.info");
  static final AgentRecord AGENT =
      AgentRecord.newBuilder().setAgentId("a-1").setHostname("node-1").setVersion("0.1").build();

  @Test
  void aWholeFileReadsBackAsWritten() throws Exception {
    byte[] bytes = CheckpointFormat.encodeFile(FileKind.AGENT_INFO, AGENT);
    assertThat(CheckpointFormat.decodeFile(FILE, bytes, FileKind.AGENT_INFO)).isEqualTo(AGENT);
    assertThat(new String(bytes, 0, 4)).isEqualTo("KMCP");
  }

  @Test
  void everyFlippedByteOfAWholeFileIsDetected() {
    byte[] good = CheckpointFormat.encodeFile(FileKind.AGENT_INFO, AGENT);
    for (int i = 0; i < good.length; i++) {
      for (int bit = 0; bit < 8; bit++) {
        byte[] bad = good.clone();
        bad[i] ^= (byte) (1 << bit);
        assertThatThrownBy(() -> CheckpointFormat.decodeFile(FILE, bad, FileKind.AGENT_INFO))
            .as("bit %d of byte %d", bit, i)
            .isInstanceOf(CheckpointCorruptException.class)
            .hasMessageContaining(FILE.toString());
      }
    }
  }

  @Test
  void aWholeFileCutAtAnyLengthIsDetected() {
    byte[] good = CheckpointFormat.encodeFile(FileKind.AGENT_INFO, AGENT);
    for (int n = 0; n < good.length; n++) {
      byte[] cut = Arrays.copyOf(good, n);
      assertThatThrownBy(() -> CheckpointFormat.decodeFile(FILE, cut, FileKind.AGENT_INFO))
          .as("cut at %d", n)
          .isInstanceOf(CheckpointCorruptException.class);
    }
    byte[] longer = Arrays.copyOf(good, good.length + 1);
    assertThatThrownBy(() -> CheckpointFormat.decodeFile(FILE, longer, FileKind.AGENT_INFO))
        .hasMessageContaining("damaged");
  }

  @Test
  void foreignFilesAreNamedAsSuch() {
    assertThatThrownBy(
            () ->
                CheckpointFormat.decodeFile(
                    FILE, "agent_id: a-1\nhostname: node-1\n".getBytes(), FileKind.AGENT_INFO))
        .hasMessageContaining("is not a kmesos checkpoint file");
    byte[] boot =
        CheckpointFormat.encodeFile(
            FileKind.BOOT_ID, BootIdRecord.newBuilder().setBootId("b").build());
    assertThatThrownBy(() -> CheckpointFormat.decodeFile(FILE, boot, FileKind.AGENT_INFO))
        .hasMessageContaining("is foreign: it holds a boot_id checkpoint, not a agent.info");
    byte[] future = CheckpointFormat.encodeFile(FileKind.AGENT_INFO, AGENT);
    future[4] = 2;
    assertThatThrownBy(() -> CheckpointFormat.decodeFile(FILE, future, FileKind.AGENT_INFO))
        .hasMessageContaining("format version 2");
    assertThatThrownBy(() -> CheckpointFormat.decodeFile(FILE, new byte[0], FileKind.AGENT_INFO))
        .hasMessageContaining("is empty");
  }

  static TaskStatus update(int i) {
    return TaskStatus.newBuilder()
        .setTaskId("t")
        .setState(TaskState.TASK_RUNNING)
        .setMessage("update " + i)
        .setUuid(ByteString.copyFromUtf8(String.format("uuid-%011d", i)))
        .build();
  }

  static byte[] updatesFile(List<TaskUpdateRecord> records) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(CheckpointFormat.updatesHeader());
    records.forEach(r -> out.writeBytes(CheckpointFormat.encodeRecord(r)));
    return out.toByteArray();
  }

  static List<TaskUpdateRecord> records(int n) {
    List<TaskUpdateRecord> records = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      records.add(TaskUpdateRecord.newBuilder().setUpdate(update(i)).build());
      records.add(TaskUpdateRecord.newBuilder().setAck(update(i).getUuid()).build());
    }
    return records;
  }

  @Test
  void aTornLastRecordIsCutAtEveryOffsetAndTheRestKept() throws Exception {
    List<TaskUpdateRecord> records = records(3);
    byte[] whole = updatesFile(records);
    int lastStart = updatesFile(records.subList(0, records.size() - 1)).length;
    for (int n = lastStart; n < whole.length; n++) {
      byte[] torn = Arrays.copyOf(whole, n);
      UpdatesScan scan = CheckpointFormat.scanUpdates(FILE, torn);
      assertThat(scan.records()).as("cut at %d", n).isEqualTo(records.subList(0, 5));
      assertThat(scan.validEnd()).isEqualTo(lastStart);
      assertThat(scan.tornTail().isPresent()).isEqualTo(n > lastStart);
    }
    assertThat(CheckpointFormat.scanUpdates(FILE, whole).records()).isEqualTo(records);
  }

  @Test
  void zerosOrGarbageAfterTheLastRecordAreATornTail() throws Exception {
    byte[] whole = updatesFile(records(2));
    UpdatesScan zeros = CheckpointFormat.scanUpdates(FILE, Arrays.copyOf(whole, whole.length + 40));
    assertThat(zeros.records()).hasSize(4);
    assertThat(zeros.tornTail()).isPresent();
  }

  @Test
  void aFlippedByteInTheLastRecordIsATornTailAndBeforeItCorruption() throws Exception {
    List<TaskUpdateRecord> records = records(3);
    byte[] whole = updatesFile(records);
    int lastStart = updatesFile(records.subList(0, records.size() - 1)).length;
    for (int i = CheckpointFormat.UPDATES_HEADER; i < whole.length; i++) {
      byte[] bad = whole.clone();
      bad[i] ^= 0x10;
      if (i >= lastStart) {
        UpdatesScan scan = CheckpointFormat.scanUpdates(FILE, bad);
        assertThat(scan.records()).as("flip at %d", i).hasSize(5);
        assertThat(scan.tornTail()).isPresent();
      } else {
        int at = i;
        assertThatThrownBy(() -> CheckpointFormat.scanUpdates(FILE, bad))
            .as("flip at %d", at)
            .isInstanceOf(CheckpointCorruptException.class)
            .hasMessageContaining("an intact record follows");
      }
    }
    for (int i = 0; i < CheckpointFormat.UPDATES_HEADER; i++) {
      byte[] bad = whole.clone();
      bad[i] ^= 0x01;
      assertThatThrownBy(() -> CheckpointFormat.scanUpdates(FILE, bad))
          .isInstanceOf(CheckpointCorruptException.class);
    }
  }
}
