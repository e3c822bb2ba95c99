package io.kmesos.agent.checkpoint;

import static java.nio.file.StandardOpenOption.APPEND;
import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.WRITE;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.Timestamps;
import io.kmesos.api.agent.v1.AgentRecord;
import io.kmesos.api.agent.v1.ExecutorRecord;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Not a test: measures fsync'd appends and atomic file writes per second on the disk of its
 * argument (a directory), for docs/agent-checkpoints.md. Run with the agent's test classpath:
 * {@code java -cp ... io.kmesos.agent.checkpoint.CheckpointThroughput /var/tmp/x 2000}.
 */
public final class CheckpointThroughput {
  public static void main(String[] args) throws Exception {
    Path dir = Files.createTempDirectory(Path.of(args.length > 0 ? args[0] : "/tmp"), "ckpt");
    int n = args.length > 1 ? Integer.parseInt(args[1]) : 2000;
    CheckpointStore store = CheckpointStore.open(dir);
    store.writeAgent(AgentRecord.newBuilder().setAgentId("a").build());
    store.writeFramework(FrameworkInfo.newBuilder().setId("f").setCheckpoint(true).build());
    store.writeExecutor(ExecutorRecord.newBuilder().setExecutorId("e").setFrameworkId("f").build());
    store.startRun("f", "e", "r");
    TaskInfo info =
        TaskInfo.newBuilder()
            .setTaskId("t")
            .setCommand(CommandInfo.newBuilder().setValue("sleep 1000"))
            .build();
    store.writeTask("f", "e", "r", info);
    for (int round = 0; round < 2; round++) {
      long[] lat = new long[n];
      // The reference in the same run: raw appends of the same size to one file, fdatasync each.
      Path raw = dir.resolve("raw");
      try (FileChannel ch = FileChannel.open(raw, CREATE, WRITE, APPEND)) {
        long begin = System.nanoTime();
        for (int i = 0; i < n; i++) {
          long t0 = System.nanoTime();
          ch.write(ByteBuffer.wrap(new byte[60]));
          ch.force(false);
          lat[i] = System.nanoTime() - t0;
        }
        report("raw appends of 60 bytes (fdatasync each)", n, System.nanoTime() - begin, lat);
      }
      Files.delete(raw);
      try (TaskUpdatesLog log = store.openUpdates("f", "e", "r", "t")) {
        long begin = System.nanoTime();
        for (int i = 0; i < n; i++) {
          long t0 = System.nanoTime();
          log.update(
              TaskStatus.newBuilder()
                  .setTaskId("t")
                  .setFrameworkId("f")
                  .setAgentId("a")
                  .setState(TaskState.TASK_RUNNING)
                  .setUuid(ByteString.copyFrom(new byte[16]))
                  .setTimestamp(Timestamps.fromMillis(System.currentTimeMillis()))
                  .build());
          lat[i] = System.nanoTime() - t0;
        }
        report("update appends (fdatasync each)", n, System.nanoTime() - begin, lat);
      }
      long begin = System.nanoTime();
      for (int i = 0; i < n; i++) {
        long t0 = System.nanoTime();
        store.writeTask("f", "e", "r", info);
        lat[i] = System.nanoTime() - t0;
      }
      report("whole-file atomic writes (task.info)", n, System.nanoTime() - begin, lat);
      store.removeRun("f", "e", "r");
      store.startRun("f", "e", "r");
      store.writeTask("f", "e", "r", info);
    }
    store.removeFramework("f");
  }

  private static void report(String what, int n, long nanos, long[] lat) {
    Arrays.sort(lat);
    System.out.printf(
        "%s: %d in %.2f s = %.0f/s, p50 %.2f ms, p99 %.2f ms%n",
        what, n, nanos / 1e9, n / (nanos / 1e9), lat[n / 2] / 1e6, lat[(int) (n * 0.99)] / 1e6);
  }
}
