package io.kmesos.replica.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.kmesos.api.log.v1.ReplicaStatus;
import io.kmesos.api.log.v1.StatusResponse;
import io.kmesos.replica.client.Writer;
import io.kmesos.replica.storage.WalFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * A replica never forgets what it acknowledged: not when its disk damages what it synced (it
 * refuses to start, naming the file, until an operator wipes it; then it recovers from its peers),
 * and not when it is killed with kill -9 in the middle of writes (it always starts again, with
 * everything it acknowledged).
 */
class ReplicaDurabilityIT extends LogProcessesTest {
  /**
   * The fault injection that found the bug: one replica misses writes, the one that has them loses
   * the tail of its write-ahead log to a flipped byte, and the third (up to date) is down. Before,
   * the damaged replica started with a shorter log and formed a quorum with the one that had missed
   * the writes, and a new writer overwrote acknowledged positions.
   */
  @Test
  void aReplicaWhoseDiskLostSyncedWritesRefusesToStartUntilWipedThenRecovers() throws Exception {
    start(3);
    Writer w = electedWriter();
    List<Long> early = appendAll(w, "early", 100);
    replicas.kill(2); // misses what follows
    List<Long> late = appendAll(w, "late", 500);
    w.close();
    replicas.kill(1);
    replicas.kill(0);

    Path wal = WalFile.largest(replicas.dataDir(1));
    long offset = WalFile.flipByteInTheMiddle(wal);
    Process damaged = replicas.start(1);
    assertThat(damaged.waitFor(60, TimeUnit.SECONDS)).as("the damaged replica exits").isTrue();
    assertThat(damaged.exitValue()).isNotZero();
    assertThat(replicas.log(1))
        .as("it says why, naming the file (byte " + offset + " was flipped)")
        .contains(
            "kmesos-log replica: the replica's storage in " + replicas.dataDir(1) + " is damaged")
        .contains(wal.getFileName().toString())
        .contains("wipe " + replicas.dataDir(1))
        .doesNotContain("\tat ");

    // With the damaged replica out, the one that missed the writes cannot form a quorum alone; once
    // the up-to-date one is back, everything acknowledged is there.
    replicas.start(2);
    replicas.start(0);
    Writer next = electedWriter();
    List<Long> positions = new ArrayList<>(early);
    positions.addAll(late);
    List<String> payloads = new ArrayList<>(names("early", 100));
    payloads.addAll(names("late", 500));
    assertLogHolds(payloads, positions);

    // The operator wipes the damaged replica: it recovers the log from its peers and votes again.
    replicas.wipe(1);
    replicas.start(1);
    long ending = log.reader().ending();
    await()
        .atMost(PATIENCE)
        .until(
            () -> {
              StatusResponse s = statusOf(1);
              return s != null
                  && s.getStatus() == ReplicaStatus.VOTING
                  && s.getLearnedThrough() >= ending;
            });
    // Now it can stand in for the up-to-date one.
    replicas.kill(0);
    List<Long> after = appendAll(next, "after", 50);
    positions.addAll(after);
    payloads.addAll(names("after", 50));
    assertLogHolds(payloads, positions);
    next.close();
  }

  /**
   * kill -9 of a replica while appends stream in, 50 times (each replica in turn): it must always
   * start again (a write torn by the kill is never mistaken for damage) and nothing acknowledged is
   * ever lost.
   */
  @Test
  void aReplicaKilledUnderLoadAlwaysStartsAgainAndNothingAcknowledgedIsLost() throws Exception {
    start(3);
    Map<String, Long> acknowledged = new ConcurrentHashMap<>();
    AtomicBoolean loading = new AtomicBoolean(true);
    CompletableFuture<Void> load =
        CompletableFuture.runAsync(() -> appendUntilStopped(loading, acknowledged));
    Random random = new Random(42);
    for (int kill = 0; kill < 50; kill++) { // bounded: 50 kills, each step waits at most 2 minutes
      int victim = kill % 3;
      int before = acknowledged.size();
      await().atMost(PATIENCE).until(() -> acknowledged.size() > before + 20 || load.isDone());
      assertThat(load).as("the load goes on").isNotDone();
      Thread.sleep(random.nextInt(150)); // a random point in the stream of writes
      replicas.kill(victim);
      Process restarted = replicas.start(victim);
      int k = kill;
      await()
          .atMost(PATIENCE)
          .until(
              () -> {
                assertThat(restarted.isAlive())
                    .as(
                        "replica %d started again after kill %d; its output:%n%s",
                        victim, k, replicas.log(victim))
                    .isTrue();
                StatusResponse s = statusOf(victim);
                return s != null && s.getStatus() == ReplicaStatus.VOTING;
              });
    }
    loading.set(false);
    load.get(120, TimeUnit.SECONDS);
    assertThat(acknowledged).hasSizeGreaterThan(1000);
    // Every replica, read on its own after catching up, holds every acknowledged append.
    List<String> payloads =
        acknowledged.keySet().stream().sorted(Comparator.comparing(acknowledged::get)).toList();
    List<Long> positions = payloads.stream().map(acknowledged::get).toList();
    try (Writer last = electedWriter()) { // settles what the load's last writer left in flight
      long ending =
          last.append(ByteString.copyFromUtf8("after the kills")).get(60, TimeUnit.SECONDS);
      assertLogHolds(payloads, positions);
      for (int i = 0; i < 3; i++) {
        int replica = i;
        await().atMost(PATIENCE).until(() -> statusOf(replica).getLearnedThrough() >= ending);
      }
    }
    assertThat(replicas.log(0) + replicas.log(1) + replicas.log(2)).doesNotContain("is damaged");
  }

  /**
   * Appends with up to 8 in flight, at most about two hundred a second (the log stays small, and
   * the restarts get CPU on a small machine), until told to stop, recording each acknowledged
   * payload's position. A writer that gives up (its appends timed out while a replica restarted) is
   * replaced, as the master would replace it; what it had in flight is decided by the next
   * election.
   */
  void appendUntilStopped(AtomicBoolean loading, Map<String, Long> acknowledged) {
    int n = 0;
    long stopBy = System.nanoTime() + TimeUnit.MINUTES.toNanos(15);
    while (loading.get() && System.nanoTime() < stopBy) {
      Writer w;
      try {
        w = electedWriter();
      } catch (Exception e) {
        try {
          Thread.sleep(200); // no quorum at the moment: try again shortly
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          return;
        }
        continue;
      }
      Semaphore inFlight = new Semaphore(8);
      AtomicBoolean failed = new AtomicBoolean();
      try (w) {
        while (loading.get() && !failed.get() && System.nanoTime() < stopBy) {
          inFlight.acquire();
          Thread.sleep(5);
          String payload = "p-" + n++;
          w.append(ByteString.copyFromUtf8(payload))
              .whenComplete(
                  (position, error) -> {
                    if (error == null) {
                      acknowledged.put(payload, position);
                    } else {
                      failed.set(true);
                    }
                    inFlight.release();
                  });
        }
        inFlight.tryAcquire(8, 60, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
