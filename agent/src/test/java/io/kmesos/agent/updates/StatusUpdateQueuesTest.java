package io.kmesos.agent.updates;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.kmesos.api.agent.v1.StatusUpdate;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Ordering, one in flight per task, retries with back-off, acknowledgements, reconnects. */
class StatusUpdateQueuesTest {
  static final FrameworkInfo FW = FrameworkInfo.newBuilder().setId("fw").build();

  /** A clock that moves only when the test says. */
  static final class ManualTimer implements RetryTimer {
    record Job(long at, Runnable task, boolean[] cancelled) {}

    long now;
    final List<Job> jobs = new ArrayList<>();

    @Override
    public Scheduled schedule(Duration delay, Runnable task) {
      boolean[] cancelled = {false};
      jobs.add(new Job(now + delay.toMillis(), task, cancelled));
      return () -> cancelled[0] = true;
    }

    void advance(Duration d) {
      long until = now + d.toMillis();
      while (true) {
        Job next =
            jobs.stream()
                .filter(j -> j.at <= until)
                .min(Comparator.comparingLong(Job::at))
                .orElse(null);
        if (next == null) {
          break;
        }
        jobs.remove(next);
        now = next.at;
        if (!next.cancelled[0]) {
          next.task.run();
        }
      }
      now = until;
    }
  }

  final ManualTimer timer = new ManualTimer();
  final List<StatusUpdate> sent = new ArrayList<>();
  final StatusUpdateQueues updates =
      new StatusUpdateQueues(timer, Duration.ofSeconds(10), Duration.ofSeconds(40));

  static TaskStatus status(String task, TaskState state) {
    return TaskStatus.newBuilder().setTaskId(task).setState(state).build();
  }

  List<TaskState> sentStates() {
    return sent.stream().map(u -> u.getStatus().getState()).toList();
  }

  @Test
  void eachUpdateGetsItsOwnUuid() {
    TaskStatus a = updates.add(FW, status("t", TaskState.TASK_STARTING));
    TaskStatus b = updates.add(FW, status("t", TaskState.TASK_RUNNING));
    assertThat(a.getUuid().size()).isEqualTo(16);
    assertThat(a.getUuid()).isNotEqualTo(b.getUuid());
    ByteBuffer bytes = a.getUuid().asReadOnlyByteBuffer();
    assertThat(new UUID(bytes.getLong(), bytes.getLong()).version()).isEqualTo(4);
    assertThat(a.getFrameworkId()).isEqualTo("fw");
  }

  @Test
  void onlyTheHeadIsInFlightAndAcksReleaseTheNextInOrder() {
    updates.connected(sent::add);
    TaskStatus starting = updates.add(FW, status("t", TaskState.TASK_STARTING));
    TaskStatus running = updates.add(FW, status("t", TaskState.TASK_RUNNING));
    TaskStatus finished = updates.add(FW, status("t", TaskState.TASK_FINISHED));
    assertThat(sentStates()).containsExactly(TaskState.TASK_STARTING);
    assertThat(updates.pending())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.head()).isEqualTo(starting);
              assertThat(p.latestState()).isEqualTo(TaskState.TASK_FINISHED);
            });

    assertThat(updates.acknowledge("fw", "t", starting.getUuid())).isTrue();
    assertThat(sentStates()).containsExactly(TaskState.TASK_STARTING, TaskState.TASK_RUNNING);
    assertThat(sent.get(1).getLatestState()).isEqualTo(TaskState.TASK_FINISHED);
    assertThat(updates.acknowledge("fw", "t", running.getUuid())).isTrue();
    assertThat(sent.get(2).getStatus()).isEqualTo(finished);
    assertThat(sent.get(2).hasLatestState()).as("nothing queued behind it").isFalse();
    assertThat(updates.acknowledge("fw", "t", finished.getUuid())).isTrue();
    assertThat(updates.pending()).as("a terminal update acknowledged: task forgotten").isEmpty();
  }

  @Test
  void tasksAreIndependent() {
    updates.connected(sent::add);
    updates.add(FW, status("a", TaskState.TASK_RUNNING));
    updates.add(FW, status("b", TaskState.TASK_RUNNING));
    assertThat(sent).extracting(u -> u.getStatus().getTaskId()).containsExactly("a", "b");
  }

  @Test
  void theHeadIsRetriedWithBackoffUntilAcknowledged() {
    updates.connected(sent::add);
    TaskStatus running = updates.add(FW, status("t", TaskState.TASK_RUNNING));
    timer.advance(Duration.ofSeconds(9));
    assertThat(sent).hasSize(1);
    timer.advance(Duration.ofSeconds(1)); // 10 s
    assertThat(sent).hasSize(2);
    timer.advance(Duration.ofSeconds(20)); // 30 s: 10 + 20
    assertThat(sent).hasSize(3);
    timer.advance(Duration.ofSeconds(40)); // 70 s: capped at 40
    assertThat(sent).hasSize(4);
    timer.advance(Duration.ofSeconds(40));
    assertThat(sent).hasSize(5);
    assertThat(sent).allSatisfy(u -> assertThat(u.getStatus()).isEqualTo(running));

    updates.acknowledge("fw", "t", running.getUuid());
    timer.advance(Duration.ofMinutes(10));
    assertThat(sent).hasSize(5);
  }

  @Test
  void acknowledgementsOfOtherUuidsAreIgnored() {
    updates.connected(sent::add);
    TaskStatus starting = updates.add(FW, status("t", TaskState.TASK_STARTING));
    TaskStatus running = updates.add(FW, status("t", TaskState.TASK_RUNNING));
    assertThat(updates.acknowledge("fw", "t", running.getUuid())).as("not the head").isFalse();
    assertThat(updates.acknowledge("fw", "t", ByteString.copyFrom(new byte[16]))).isFalse();
    assertThat(updates.acknowledge("fw", "other", starting.getUuid())).isFalse();
    assertThat(updates.acknowledge("other", "t", starting.getUuid())).isFalse();
    assertThat(sentStates()).containsExactly(TaskState.TASK_STARTING);
    assertThat(updates.acknowledge("fw", "t", starting.getUuid())).isTrue();
    assertThat(updates.acknowledge("fw", "t", starting.getUuid())).as("a duplicate").isFalse();
    assertThat(sentStates()).containsExactly(TaskState.TASK_STARTING, TaskState.TASK_RUNNING);
  }

  @Test
  void nothingIsSentWithoutASessionAndEveryHeadAtOnceOnReconnect() {
    TaskStatus a = updates.add(FW, status("a", TaskState.TASK_RUNNING));
    updates.add(FW, status("a", TaskState.TASK_FAILED));
    TaskStatus b = updates.add(FW, status("b", TaskState.TASK_FINISHED));
    timer.advance(Duration.ofMinutes(5));
    assertThat(sent).isEmpty();

    updates.connected(sent::add);
    assertThat(sent).extracting(StatusUpdate::getStatus).containsExactly(a, b);
    assertThat(sent.get(0).getLatestState()).isEqualTo(TaskState.TASK_FAILED);

    updates.disconnected();
    timer.advance(Duration.ofMinutes(5));
    assertThat(sent).as("no retries while disconnected").hasSize(2);

    List<StatusUpdate> second = new ArrayList<>();
    timer.advance(Duration.ofSeconds(1));
    updates.connected(second::add);
    assertThat(second).extracting(StatusUpdate::getStatus).containsExactly(a, b);
    timer.advance(Duration.ofSeconds(10));
    assertThat(second).as("back-off starts again with a session").hasSize(4);
  }

  @Test
  void droppingAFrameworkDropsItsUpdates() {
    FrameworkInfo other = FrameworkInfo.newBuilder().setId("other").build();
    updates.connected(sent::add);
    updates.add(FW, status("t", TaskState.TASK_RUNNING));
    updates.add(other, status("u", TaskState.TASK_RUNNING));
    updates.dropFramework("fw");
    assertThat(updates.pending()).extracting(p -> p.head().getTaskId()).containsExactly("u");
    timer.advance(Duration.ofSeconds(10));
    assertThat(sent.subList(2, sent.size()))
        .extracting(u -> u.getStatus().getTaskId())
        .containsOnly("u");
  }

  @Test
  void backoffMustBePositiveAndOrdered() {
    assertThatThrownBy(() -> new StatusUpdateQueues(timer, Duration.ZERO, Duration.ofSeconds(1)))
        .hasMessageContaining("back-off");
    assertThatThrownBy(
            () -> new StatusUpdateQueues(timer, Duration.ofSeconds(2), Duration.ofSeconds(1)))
        .hasMessageContaining("back-off");
  }
}
