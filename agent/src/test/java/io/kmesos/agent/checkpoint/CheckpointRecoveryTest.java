package io.kmesos.agent.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.Timestamps;
import io.kmesos.agent.checkpoint.CheckpointReader.Options;
import io.kmesos.agent.checkpoint.CheckpointReader.Recovery;
import io.kmesos.agent.checkpoint.Problem.Kind;
import io.kmesos.api.agent.v1.AgentRecord;
import io.kmesos.api.agent.v1.ExecutorRecord;
import io.kmesos.api.agent.v1.FrameworkRecord;
import io.kmesos.api.agent.v1.RunProcessRecord;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the agent's recovery relies on: a tree written by {@link CheckpointStore} reads back whole;
 * a crash at any point leaves something {@link CheckpointReader} recovers; damage is never used.
 */
class CheckpointRecoveryTest {
  @TempDir Path work;
  CheckpointStore store;
  MetaLayout layout;

  static final AgentRecord AGENT =
      AgentRecord.newBuilder()
          .setAgentId("agent-uid-1")
          .setHostname("node-1")
          .setVersion("0.1.0")
          .setRecordedAt(Timestamps.fromMillis(1_700_000_000_000L))
          .build();
  static final FrameworkInfo FW1 =
      FrameworkInfo.newBuilder()
          .setId("fw-1")
          .setName("batch")
          .setCheckpoint(true)
          .addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE)
          .build();
  static final FrameworkInfo FW2 =
      FrameworkInfo.newBuilder().setId("fw-2").setName("web").setCheckpoint(true).build();

  @BeforeEach
  void open() throws IOException {
    store = CheckpointStore.open(work);
    layout = store.layout();
  }

  static TaskInfo task(String id) {
    return TaskInfo.newBuilder()
        .setTaskId(id)
        .setName("task " + id)
        .setAgentId("agent-uid-1")
        .setCommand(CommandInfo.newBuilder().setValue("sleep 1000"))
        .build();
  }

  static TaskStatus status(String frameworkId, String taskId, TaskState state) {
    UUID u = UUID.randomUUID();
    ByteBuffer b = ByteBuffer.allocate(16);
    b.putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits());
    return TaskStatus.newBuilder()
        .setTaskId(taskId)
        .setFrameworkId(frameworkId)
        .setAgentId("agent-uid-1")
        .setState(state)
        .setSource(TaskStatus.Source.SOURCE_EXECUTOR)
        .setUuid(ByteString.copyFrom(b.array()))
        .setTimestamp(Timestamps.fromMillis(System.currentTimeMillis()))
        .build();
  }

  /** A command task the way the agent will checkpoint it: executor ID = task ID. */
  void launch(FrameworkInfo fw, String taskId, String runId, long pid) throws IOException {
    store.writeExecutor(
        ExecutorRecord.newBuilder()
            .setExecutorId(taskId)
            .setFrameworkId(fw.getId())
            .setCommandTaskId(taskId)
            .setName("Command Executor (Task: " + taskId + ")")
            .build());
    store.startRun(fw.getId(), taskId, runId);
    store.writeTask(fw.getId(), taskId, runId, task(taskId));
    store.writeRunProcess(
        fw.getId(),
        taskId,
        RunProcessRecord.newBuilder()
            .setRunId(runId)
            .setPid(pid)
            .setPgid(pid)
            .setSid(pid)
            .setProcessStartedAt(Timestamps.fromMillis(1_700_000_001_000L))
            .setSandbox("/w/sandboxes/" + fw.getId() + "/" + taskId + "/" + runId)
            .setBootId("boot-1")
            .build());
  }

  /**
   * fw-1: task t1 (RUNNING acked, FINISHED pending), t2 (RUNNING pending), t3 in two runs (the
   * first completed, the second RUNNING); fw-2: task w1 (RUNNING, KILLING, KILLED all acked).
   */
  Map<String, List<TaskStatus>> writeTree() throws IOException {
    store.writeAgent(AGENT);
    store.writeBootId("boot-1");
    store.writeFramework(FW1);
    store.writeFramework(FW2);
    launch(FW1, "t1", "run-a", 101);
    launch(FW1, "t2", "run-b", 102);
    launch(FW1, "t3", "run-c", 103);
    launch(FW2, "w1", "run-d", 104);
    TaskStatus t1Running = status("fw-1", "t1", TaskState.TASK_RUNNING);
    TaskStatus t1Finished = status("fw-1", "t1", TaskState.TASK_FINISHED);
    try (TaskUpdatesLog log = store.openUpdates("fw-1", "t1", "run-a", "t1")) {
      log.update(t1Running);
      log.update(t1Finished);
      log.acknowledge(t1Running.getUuid());
    }
    TaskStatus t2Running = status("fw-1", "t2", TaskState.TASK_RUNNING);
    try (TaskUpdatesLog log = store.openUpdates("fw-1", "t2", "run-b", "t2")) {
      log.update(t2Running);
    }
    store.markRunCompleted("fw-1", "t3", "run-c", "TASK_FAILED, restarted");
    store.startRun("fw-1", "t3", "run-e");
    store.writeTask("fw-1", "t3", "run-e", task("t3"));
    TaskStatus t3Running = status("fw-1", "t3", TaskState.TASK_RUNNING);
    try (TaskUpdatesLog log = store.openUpdates("fw-1", "t3", "run-e", "t3")) {
      log.update(t3Running);
    }
    List<TaskStatus> w1 =
        List.of(
            status("fw-2", "w1", TaskState.TASK_RUNNING),
            status("fw-2", "w1", TaskState.TASK_KILLING),
            status("fw-2", "w1", TaskState.TASK_KILLED));
    try (TaskUpdatesLog log = store.openUpdates("fw-2", "w1", "run-d", "w1")) {
      for (TaskStatus s : w1) {
        log.update(s);
        log.acknowledge(s.getUuid());
      }
    }
    return Map.of(
        "t1", List.of(t1Running, t1Finished),
        "t2", List.of(t2Running),
        "t3", List.of(t3Running),
        "w1", w1);
  }

  Recovery recover(Options options) throws IOException {
    return CheckpointReader.recover(work, options);
  }

  @Test
  void aFreshWorkDirectoryRecoversNothing() throws IOException {
    Path fresh = work.resolve("fresh");
    Recovery r = CheckpointReader.recover(fresh, Options.STRICT);
    assertThat(r.agent()).isEqualTo(RecoveredAgent.empty());
    assertThat(r.problems()).isEmpty();
    assertThat(recover(Options.STRICT).agent()).isEqualTo(RecoveredAgent.empty());
  }

  @Test
  void aFullTreeReadsBackAsWritten() throws IOException {
    Map<String, List<TaskStatus>> updates = writeTree();
    Recovery r = recover(Options.STRICT);
    assertThat(r.problems()).isEmpty();
    RecoveredAgent agent = r.agent();
    assertThat(agent.info()).contains(AGENT);
    assertThat(agent.bootId()).contains("boot-1");
    assertThat(agent.rebootedSince("boot-1")).isFalse();
    assertThat(agent.rebootedSince("boot-2")).isTrue();
    assertThat(agent.frameworks().keySet()).containsExactly("fw-1", "fw-2");
    assertThat(agent.frameworks().get("fw-1").info()).isEqualTo(FW1);
    assertThat(agent.frameworks().get("fw-2").info()).isEqualTo(FW2);

    RecoveredFramework fw1 = agent.frameworks().get("fw-1");
    assertThat(fw1.executors().keySet()).containsExactly("t1", "t2", "t3");
    RecoveredExecutor t1 = fw1.executors().get("t1");
    assertThat(t1.info().getCommandTaskId()).isEqualTo("t1");
    assertThat(t1.latestRunId()).contains("run-a");
    RecoveredRun runA = t1.latestRun().orElseThrow();
    assertThat(runA.process().orElseThrow().getPid()).isEqualTo(101);
    assertThat(runA.process().orElseThrow().getSid()).isEqualTo(101);
    assertThat(runA.completed()).isEmpty();
    RecoveredTask task1 = runA.tasks().get("t1");
    assertThat(task1.info()).isEqualTo(task("t1"));
    assertThat(task1.updates()).isEqualTo(updates.get("t1"));
    assertThat(task1.acknowledged()).containsExactly(updates.get("t1").get(0).getUuid());
    assertThat(task1.head()).contains(updates.get("t1").get(1));
    assertThat(task1.latestState()).contains(TaskState.TASK_FINISHED);
    assertThat(task1.isTerminalAndAcknowledged()).isFalse();

    RecoveredTask task2 = fw1.executors().get("t2").latestRun().orElseThrow().tasks().get("t2");
    assertThat(task2.unacknowledged()).isEqualTo(updates.get("t2"));

    RecoveredExecutor t3 = fw1.executors().get("t3");
    assertThat(t3.runs().keySet()).containsExactly("run-c", "run-e");
    assertThat(t3.latestRunId()).contains("run-e");
    assertThat(t3.runs().get("run-c").completed().orElseThrow().getReason())
        .isEqualTo("TASK_FAILED, restarted");
    assertThat(t3.latestRun().orElseThrow().process()).isEmpty();
    assertThat(t3.latestRun().orElseThrow().tasks().get("t3").head())
        .contains(updates.get("t3").get(0));

    RecoveredTask w1 =
        agent
            .frameworks()
            .get("fw-2")
            .executors()
            .get("w1")
            .latestRun()
            .orElseThrow()
            .tasks()
            .get("w1");
    assertThat(w1.updates()).isEqualTo(updates.get("w1"));
    assertThat(w1.unacknowledged()).isEmpty();
    assertThat(w1.head()).isEmpty();
    assertThat(w1.isTerminalAndAcknowledged()).isTrue();

    assertThat(agent.allTasks()).extracting(RecoveredTask::id).contains("t1", "t2", "t3", "w1");
    assertThatThrownBy(() -> agent.frameworks().clear())
        .isInstanceOf(UnsupportedOperationException.class);
  }

  @Test
  void acknowledgementsMoveTheHeadAndSurviveReopening() throws IOException {
    store.writeAgent(AGENT);
    store.writeFramework(FW1);
    launch(FW1, "t1", "run-a", 101);
    TaskStatus running = status("fw-1", "t1", TaskState.TASK_RUNNING);
    TaskStatus killing = status("fw-1", "t1", TaskState.TASK_KILLING);
    TaskStatus killed = status("fw-1", "t1", TaskState.TASK_KILLED);
    try (TaskUpdatesLog log = store.openUpdates("fw-1", "t1", "run-a", "t1")) {
      log.update(running);
      log.update(killing);
      log.acknowledge(running.getUuid());
    }
    RecoveredTask t = onlyTask(recover(Options.STRICT));
    assertThat(t.head()).contains(killing);
    assertThat(t.unacknowledged()).containsExactly(killing);
    try (TaskUpdatesLog log = store.openUpdates("fw-1", "t1", "run-a", "t1")) {
      assertThat(log.recordsAtOpen()).hasSize(3);
      log.update(killed);
      log.update(killed); // checkpointed again after a crash: one update, not two
      log.acknowledge(killing.getUuid());
    }
    t = onlyTask(recover(Options.STRICT));
    assertThat(t.updates()).containsExactly(running, killing, killed);
    assertThat(t.head()).contains(killed);
    assertThat(t.latestState()).contains(TaskState.TASK_KILLED);
    try (TaskUpdatesLog log = store.openUpdates("fw-1", "t1", "run-a", "t1")) {
      log.acknowledge(killed.getUuid());
      log.acknowledge(ByteString.copyFromUtf8("never-an-update!"));
    }
    Recovery r = recover(Options.STRICT);
    assertThat(onlyTask(r).isTerminalAndAcknowledged()).isTrue();
    assertThat(r.problems(Kind.UNMATCHED_ACK)).hasSize(1);
    assertThat(onlyTask(r).acknowledged()).hasSize(3);
  }

  RecoveredTask onlyTask(Recovery r) {
    assertThat(r.agent().allTasks()).hasSize(1);
    return r.agent().allTasks().get(0);
  }

  @Test
  void aTornLastRecordIsCutAtEveryByteOffsetAndAppendingGoesOn() throws IOException {
    store.writeAgent(AGENT);
    store.writeFramework(FW1);
    launch(FW1, "t1", "run-a", 101);
    TaskStatus running = status("fw-1", "t1", TaskState.TASK_RUNNING);
    TaskStatus finished = status("fw-1", "t1", TaskState.TASK_FINISHED);
    Path file = layout.taskUpdates("fw-1", "t1", "run-a", "t1");
    long lastStart;
    try (TaskUpdatesLog log = store.openUpdates("fw-1", "t1", "run-a", "t1")) {
      log.update(running);
      log.acknowledge(running.getUuid());
      lastStart = log.length();
      log.update(finished);
    }
    byte[] whole = Files.readAllBytes(file);
    for (long n = lastStart; n < whole.length; n++) {
      Files.write(file, Arrays.copyOf(whole, (int) n));
      Recovery r = recover(Options.STRICT);
      RecoveredTask t = onlyTask(r);
      assertThat(t.updates()).as("cut at %d", n).containsExactly(running);
      assertThat(t.acknowledged()).containsExactly(running.getUuid());
      assertThat(t.head()).isEmpty();
      if (n == lastStart) {
        assertThat(r.problems()).isEmpty();
      } else {
        assertThat(r.problems())
            .singleElement()
            .satisfies(
                p -> {
                  assertThat(p.kind()).isEqualTo(Kind.TORN_TAIL_CUT);
                  assertThat(p.file()).isEqualTo(file);
                  assertThat(p.detail()).contains("offset " + lastStart);
                });
      }
      assertThat(Files.size(file)).as("truncated on recovery").isEqualTo(lastStart);
    }
    // The update is sent again after recovery and checkpointed again: it now follows the cut.
    try (TaskUpdatesLog log = store.openUpdates("fw-1", "t1", "run-a", "t1")) {
      log.update(finished);
    }
    assertThat(onlyTask(recover(Options.STRICT)).head()).contains(finished);
    assertThat(recover(Options.STRICT).problems()).isEmpty();
  }

  @Test
  void concurrentAppendsToOneLogAllSurviveIntact() throws Exception {
    store.writeAgent(AGENT);
    store.writeFramework(FW1);
    launch(FW1, "t1", "run-a", 101);
    List<TaskStatus> written = new CopyOnWriteArrayList<>();
    try (TaskUpdatesLog log = store.openUpdates("fw-1", "t1", "run-a", "t1")) {
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        Thread thread =
            new Thread(
                () -> {
                  for (int i = 0; i < 25; i++) {
                    TaskStatus s = status("fw-1", "t1", TaskState.TASK_RUNNING);
                    try {
                      log.update(s);
                    } catch (IOException e) {
                      throw new UncheckedIOException(e);
                    }
                    written.add(s);
                  }
                });
        thread.start();
        threads.add(thread);
      }
      for (Thread thread : threads) {
        thread.join();
      }
    }
    Recovery r = recover(Options.STRICT);
    assertThat(r.problems()).isEmpty();
    assertThat(onlyTask(r).updates()).hasSize(100).containsExactlyInAnyOrderElementsOf(written);
  }

  @Test
  void aRunStartedButNotYetPointedAtIsNoDamage() throws IOException {
    store.writeAgent(AGENT);
    store.writeFramework(FW1);
    launch(FW1, "t1", "run-a", 101);
    // The agent stopped after creating run-b's directory, before moving `latest` to it.
    Files.createDirectories(layout.run("fw-1", "t1", "run-b"));
    RecoveredExecutor e =
        recover(Options.STRICT).agent().frameworks().get("fw-1").executors().get("t1");
    assertThat(e.latestRunId()).contains("run-a");
    assertThat(e.runs().keySet()).containsExactly("run-a", "run-b");
    // ... or before the first `latest` was ever written.
    Files.delete(layout.latestRun("fw-1", "t1"));
    Recovery r = recover(Options.STRICT);
    assertThat(r.problems()).extracting(Problem::kind).containsExactly(Kind.NO_LATEST_RUN);
    assertThat(r.agent().frameworks().get("fw-1").executors().get("t1").latestRun()).isEmpty();
  }

  @Test
  void openingForAppendCutsATornTailToo() throws IOException {
    store.writeAgent(AGENT);
    store.writeFramework(FW1);
    launch(FW1, "t1", "run-a", 101);
    TaskStatus running = status("fw-1", "t1", TaskState.TASK_RUNNING);
    TaskStatus failed = status("fw-1", "t1", TaskState.TASK_FAILED);
    try (TaskUpdatesLog log = store.openUpdates("fw-1", "t1", "run-a", "t1")) {
      log.update(running);
    }
    Path file = layout.taskUpdates("fw-1", "t1", "run-a", "t1");
    Files.write(file, new byte[] {0, 0, 0, 42, 1, 2}, StandardOpenOption.APPEND);
    try (TaskUpdatesLog log = store.openUpdates("fw-1", "t1", "run-a", "t1")) {
      assertThat(log.recordsAtOpen()).hasSize(1);
      log.update(failed);
    }
    Recovery r = recover(Options.STRICT);
    assertThat(r.problems()).isEmpty();
    assertThat(onlyTask(r).updates()).containsExactly(running, failed);
  }

  /** Every kind of file, and what non-strict recovery must leave out when it is damaged. */
  record Case(String what, Path file, Path skipped) {}

  List<Case> everyFileKind() {
    return List.of(
        new Case("agent.info", layout.agentInfo(), null),
        new Case("boot_id", layout.bootId(), null),
        new Case("framework.info", layout.frameworkInfo("fw-2"), layout.framework("fw-2")),
        new Case("executor.info", layout.executorInfo("fw-1", "t2"), layout.executor("fw-1", "t2")),
        new Case("latest", layout.latestRun("fw-1", "t3"), null),
        new Case("forked.pid", layout.runProcess("fw-1", "t1", "run-a"), null),
        new Case("completed", layout.runCompleted("fw-1", "t3", "run-c"), null),
        new Case(
            "task.info",
            layout.taskInfo("fw-1", "t3", "run-e", "t3"),
            layout.task("fw-1", "t3", "run-e", "t3")),
        new Case(
            "task.updates (before its last record)",
            layout.taskUpdates("fw-2", "w1", "run-d", "w1"),
            layout.task("fw-2", "w1", "run-d", "w1")));
  }

  @Test
  void aFlippedByteInEachFileKindStopsStrictRecoveryNamingTheFile() throws IOException {
    writeTree();
    for (Case c : everyFileKind()) {
      byte[] good = Files.readAllBytes(c.file());
      flip(c.file(), 20);
      assertThatThrownBy(() -> recover(Options.STRICT))
          .as(c.what())
          .isInstanceOf(CheckpointCorruptException.class)
          .hasMessageContaining("Checkpoint file " + c.file() + " is damaged")
          .hasMessageContaining("--strict=false")
          .hasMessageContaining("remove " + layout.meta())
          .satisfies(e -> assertThat(((CheckpointCorruptException) e).file()).isEqualTo(c.file()));
      Files.write(c.file(), good);
    }
    assertThat(recover(Options.STRICT).problems()).isEmpty();
  }

  @Test
  void aFlippedByteInEachFileKindIsSkippedByNonStrictRecoveryAndTheRestRecovered()
      throws IOException {
    writeTree();
    Recovery intact = recover(Options.STRICT);
    for (Case c : everyFileKind()) {
      byte[] good = Files.readAllBytes(c.file());
      flip(c.file(), 20);
      Recovery r = recover(Options.LENIENT);
      assertThat(r.problems()).as(c.what()).hasSize(1);
      Problem p = r.problems().get(0);
      assertThat(p.kind()).isEqualTo(Kind.CORRUPT);
      assertThat(p.file()).isEqualTo(c.file());
      assertThat(p.skipped()).isEqualTo(Optional.ofNullable(c.skipped()));
      assertThat(Files.readAllBytes(c.file()))
          .as("a damaged file is left for the operator")
          .isNotEqualTo(good);
      assertThat(tasks(r.agent()))
          .as(c.what())
          .isEqualTo(
              c.skipped() == null
                  ? tasks(intact.agent())
                  : tasks(intact.agent()).stream()
                      .filter(t -> !under(t, c.skipped(), intact.agent()))
                      .toList());
      Files.write(c.file(), good);
    }
    // The facts a damaged leaf file held are unknown; the rest is there.
    flip(layout.agentInfo(), 20);
    flip(layout.latestRun("fw-1", "t3"), 20);
    Recovery r = recover(Options.LENIENT);
    assertThat(r.agent().info()).isEmpty();
    assertThat(r.agent().bootId()).contains("boot-1");
    assertThat(r.agent().frameworks().get("fw-1").executors().get("t3").latestRunId()).isEmpty();
    assertThat(r.agent().frameworks().get("fw-1").executors().get("t3").runs()).hasSize(2);
  }

  @Test
  void manyExecutorsReadOnSeveralThreadsRecoverAsOneThreadWould() throws IOException {
    store.writeAgent(AGENT);
    store.writeFramework(FW1);
    int n = CheckpointReader.PARALLEL_FROM + 36;
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String id = String.format("x%03d", i);
      launch(FW1, id, "run-" + i, 1000 + i);
      expected.add("fw-1/" + id + "/run-" + i + "/" + id);
    }
    Recovery whole = recover(Options.STRICT);
    assertThat(whole.problems()).isEmpty();
    assertThat(tasks(whole.agent())).isEqualTo(expected);
    assertThat(whole.agent().frameworks().get("fw-1").executors().keySet())
        .containsExactlyElementsOf(expected.stream().map(t -> t.split("/")[1]).toList());

    Path first = layout.taskInfo("fw-1", "x010", "run-10", "x010");
    Path second = layout.taskInfo("fw-1", "x070", "run-70", "x070");
    flip(second, 20);
    flip(first, 20);
    // Strict: the damaged file met first in ID order is named, as on one thread.
    assertThatThrownBy(() -> recover(Options.STRICT))
        .isInstanceOf(CheckpointCorruptException.class)
        .satisfies(e -> assertThat(((CheckpointCorruptException) e).file()).isEqualTo(first));
    Recovery lenient = recover(Options.LENIENT);
    assertThat(lenient.problems()).extracting(Problem::file).containsExactly(first, second);
    assertThat(tasks(lenient.agent()))
        .isEqualTo(
            expected.stream().filter(t -> !t.contains("x010") && !t.contains("x070")).toList());
  }

  /** Task IDs with where they lie, to compare what two recoveries found. */
  static List<String> tasks(RecoveredAgent agent) {
    return agent.frameworks().values().stream()
        .flatMap(
            f ->
                f.executors().values().stream()
                    .flatMap(
                        e ->
                            e.runs().values().stream()
                                .flatMap(
                                    r ->
                                        r.tasks().keySet().stream()
                                            .map(
                                                t ->
                                                    f.id() + "/" + e.id() + "/" + r.id() + "/"
                                                        + t))))
        .toList();
  }

  boolean under(String task, Path skipped, RecoveredAgent agent) {
    String[] p = task.split("/");
    return layout.task(p[0], p[1], p[2], p[3]).startsWith(skipped);
  }

  static void flip(Path file, int offset) throws IOException {
    byte[] b = Files.readAllBytes(file);
    b[offset] ^= 0x40;
    Files.write(file, b);
  }

  @Test
  void aForeignFileIsNeverRead() throws IOException {
    writeTree();
    Path info = layout.frameworkInfo("fw-1");
    Files.writeString(info, "{\"id\": \"fw-1\", \"name\": \"batch\"}\n");
    assertThatThrownBy(() -> recover(Options.STRICT))
        .hasMessageContaining(info + " is not a kmesos checkpoint file");
    // A checkpoint of another kind where this one belongs.
    Files.copy(layout.executorInfo("fw-1", "t1"), info, StandardCopyOption.REPLACE_EXISTING);
    assertThatThrownBy(() -> recover(Options.STRICT))
        .hasMessageContaining(info + " is foreign: it holds a executor.info checkpoint");
    // A framework.info of another framework.
    Files.copy(layout.frameworkInfo("fw-2"), info, StandardCopyOption.REPLACE_EXISTING);
    assertThatThrownBy(() -> recover(Options.STRICT))
        .hasMessageContaining(info + " is inconsistent: it holds framework fw-2");
    Recovery r = recover(Options.LENIENT);
    assertThat(r.agent().frameworks().keySet()).containsExactly("fw-2");
    assertThat(r.problems())
        .singleElement()
        .extracting(Problem::skipped)
        .isEqualTo(Optional.of(layout.framework("fw-1")));
  }

  @Test
  void aMissingInfoFileIsDamageUnlessItsDirectoryIsEmpty() throws IOException {
    writeTree();
    // Lost: the task's updates are there, its info is not.
    Path taskInfo = layout.taskInfo("fw-1", "t2", "run-b", "t2");
    Files.delete(taskInfo);
    assertThatThrownBy(() -> recover(Options.STRICT))
        .isInstanceOf(CheckpointCorruptException.class)
        .hasMessageContaining(taskInfo + " is missing, yet its directory holds [task.updates]");
    Recovery lenient = recover(Options.LENIENT);
    assertThat(lenient.problems())
        .singleElement()
        .extracting(Problem::kind)
        .isEqualTo(Kind.CORRUPT);
    assertThat(
            lenient
                .agent()
                .frameworks()
                .get("fw-1")
                .executors()
                .get("t2")
                .latestRun()
                .orElseThrow()
                .tasks())
        .isEmpty();
    Files.delete(layout.taskUpdates("fw-1", "t2", "run-b", "t2"));

    // Never written: the agent stopped between creating the directory and writing the file.
    Files.createDirectories(layout.task("fw-1", "t1", "run-a", "t9"));
    Files.createDirectories(layout.framework("fw-9"));
    Recovery r = recover(Options.STRICT);
    assertThat(r.problems()).extracting(Problem::kind).containsOnly(Kind.INCOMPLETE).hasSize(3);
    assertThat(r.agent().frameworks().keySet()).containsExactly("fw-1", "fw-2");
    assertThat(layout.framework("fw-9")).doesNotExist();
    assertThat(recover(Options.STRICT).problems()).isEmpty();

    // agent.info lost under checkpointed frameworks.
    Files.delete(layout.agentInfo());
    assertThatThrownBy(() -> recover(Options.STRICT))
        .hasMessageContaining(layout.agentInfo() + " is missing, yet 2 framework(s)");
  }

  @Test
  void anInterruptedAtomicWriteNeverReplacesTheGoodFileAndItsTemporaryIsRemoved()
      throws IOException {
    writeTree();
    Path info = layout.frameworkInfo("fw-1");
    byte[] newer =
        CheckpointFormat.encodeFile(
            FileKind.FRAMEWORK_INFO,
            FrameworkRecord.newBuilder().setInfo(FW1.toBuilder().setName("renamed")).build());
    // What a crash at any point before the rename leaves: the old file, and a temporary with any
    // prefix of the new bytes (not even fsync'd).
    for (int n : new int[] {0, 5, newer.length / 2, newer.length}) {
      Path tmp = info.resolveSibling("~tmp~framework.info~" + Integer.toHexString(n));
      Files.write(tmp, Arrays.copyOf(newer, n));
      Recovery r = recover(Options.STRICT);
      assertThat(r.agent().frameworks().get("fw-1").info()).isEqualTo(FW1);
      assertThat(r.problems())
          .singleElement()
          .satisfies(
              p -> {
                assertThat(p.kind()).isEqualTo(Kind.LEFTOVER);
                assertThat(p.file()).isEqualTo(tmp);
              });
      assertThat(tmp).doesNotExist();
    }
    // And the store's next write replaces the file whole.
    store.writeFramework(FW1.toBuilder().setName("renamed").build());
    assertThat(recover(Options.STRICT).agent().frameworks().get("fw-1").info().getName())
        .isEqualTo("renamed");
    try (Stream<Path> files = Files.list(info.getParent())) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrder("framework.info", "executors");
    }
  }

  @Test
  void aReadOnlyRecoveryRepairsNothing() throws IOException {
    writeTree();
    Path updates = layout.taskUpdates("fw-1", "t2", "run-b", "t2");
    Files.write(updates, new byte[] {0, 0, 0}, StandardOpenOption.APPEND);
    Path tmp = layout.meta().resolve("~tmp~agent.info~1");
    Files.write(tmp, new byte[] {1});
    long size = Files.size(updates);
    Recovery r = CheckpointReader.recover(work, new Options(true, false));
    assertThat(r.problems())
        .extracting(Problem::kind)
        .containsExactlyInAnyOrder(Kind.LEFTOVER, Kind.TORN_TAIL_CUT);
    assertThat(Files.size(updates)).isEqualTo(size);
    assertThat(tmp).exists();
  }

  @Test
  void theStoreKeepsTheTreeInOrder() throws IOException {
    assertThatThrownBy(() -> store.writeFramework(FW1))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("the agent's info must be checkpointed first");
    store.writeAgent(AGENT);
    assertThatThrownBy(
            () ->
                store.writeExecutor(
                    ExecutorRecord.newBuilder().setExecutorId("e").setFrameworkId("fw-1").build()))
        .hasMessageContaining("framework fw-1 must be checkpointed first");
    store.writeFramework(FW1);
    assertThatThrownBy(() -> store.startRun("fw-1", "e", "r"))
        .hasMessageContaining("executor e of framework fw-1 must be checkpointed first");
    store.writeExecutor(
        ExecutorRecord.newBuilder().setExecutorId("e").setFrameworkId("fw-1").build());
    assertThatThrownBy(() -> store.writeTask("fw-1", "e", "r", task("t")))
        .hasMessageContaining("run r of executor e of framework fw-1 was not started");
    store.startRun("fw-1", "e", "r");
    assertThatThrownBy(() -> store.openUpdates("fw-1", "e", "r", "t"))
        .hasMessageContaining("task t of run r must be checkpointed first");
    assertThatThrownBy(() -> store.writeTask("fw-1", "e", "r", task("../../x")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cannot checkpoint task '../../x'");
    assertThatThrownBy(() -> store.writeTask("fw-1", "e", "r", task("a~b")))
        .isInstanceOf(IllegalArgumentException.class);
    store.writeTask("fw-1", "e", "r", task("t"));
    try (TaskUpdatesLog log = store.openUpdates("fw-1", "e", "r", "t")) {
      assertThatThrownBy(
              () ->
                  log.update(
                      status("fw-1", "t", TaskState.TASK_RUNNING).toBuilder().clearUuid().build()))
          .hasMessageContaining("needs its UUID");
    }
    assertThat(recover(Options.STRICT).problems()).isEmpty();
  }

  @Test
  void garbageCollectionRemovesWholeSubtreesAndNothingOutsideMeta() throws IOException {
    writeTree();
    assertThat(store.removeRun("fw-1", "t3", "run-c")).isTrue();
    assertThat(store.removeRun("fw-1", "t3", "run-c")).isFalse();
    assertThat(
            recover(Options.STRICT)
                .agent()
                .frameworks()
                .get("fw-1")
                .executors()
                .get("t3")
                .runs()
                .keySet())
        .containsExactly("run-e");
    assertThat(store.removeExecutor("fw-1", "t1")).isTrue();
    assertThat(store.removeFramework("fw-2")).isTrue();
    Recovery r = recover(Options.STRICT);
    assertThat(r.problems()).isEmpty();
    assertThat(r.agent().frameworks().keySet()).containsExactly("fw-1");
    assertThat(r.agent().frameworks().get("fw-1").executors().keySet()).containsExactly("t2", "t3");

    Path outside = Files.writeString(work.resolve("keep.txt"), "mine");
    assertThatThrownBy(() -> store.delete(outside))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("refusing to delete");
    assertThatThrownBy(() -> store.delete(layout.meta().resolve("..").resolve("keep.txt")))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> store.delete(layout.meta()))
        .isInstanceOf(IllegalArgumentException.class);
    Path link = layout.meta().resolve("frameworks").resolve("fw-1").resolve("escape");
    Files.createSymbolicLink(link, work);
    assertThatThrownBy(() -> store.delete(link.resolve("keep.txt")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("outside");
    assertThat(store.delete(link)).isTrue(); // the link itself, not what it points to
    assertThat(outside).exists();

    // A removal interrupted after its rename: the reader finishes it.
    Path doomed = layout.framework("fw-1").resolveSibling("~del~fw-1~1");
    Files.move(layout.framework("fw-1"), doomed);
    r = recover(Options.STRICT);
    assertThat(r.agent().frameworks()).isEmpty();
    assertThat(r.problems()).extracting(Problem::kind).containsExactly(Kind.LEFTOVER);
    assertThat(doomed).doesNotExist();
  }

  @Test
  void unexpectedEntriesAreReportedAndLeftAlone() throws IOException {
    writeTree();
    Path notes = Files.writeString(layout.meta().resolve("NOTES"), "operator was here");
    Recovery r = recover(Options.STRICT);
    assertThat(r.problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.kind()).isEqualTo(Kind.UNEXPECTED);
              assertThat(p.file()).isEqualTo(notes);
            });
    assertThat(notes).exists();
  }

  @Test
  void bootIdIsReadFromTheKernelFile(@TempDir Path dir) throws IOException {
    Path f = Files.writeString(dir.resolve("boot_id"), "0f0e5f9c-1111-2222-3333-444455556666\n");
    assertThat(BootId.read(f)).isEqualTo("0f0e5f9c-1111-2222-3333-444455556666");
    if (Files.exists(BootId.LINUX)) {
      assertThat(BootId.current()).hasSize(36);
    }
  }
}
