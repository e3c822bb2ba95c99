package io.kmesos.replica.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.kmesos.api.log.v1.ActionType;
import io.kmesos.api.log.v1.StatusResponse;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.client.LogEntry;
import io.kmesos.replica.client.Reader;
import io.kmesos.replica.client.Writer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the tests of a log made of replica processes share: a log of separate replica JVMs on
 * 127.0.0.1 (one per test), a client, writers elected as a master's would be, and the check that
 * every acknowledged append is in the log exactly once, at its position.
 *
 * <p>Nothing here depends on the machine's speed: every wait is for a condition, with a deadline
 * generous enough for a loaded 2-core machine (replica JVMs may take many seconds to start), and
 * writers elect with a deadline that outlasts a replica's restart.
 */
abstract class LogProcessesTest {
  /**
   * How long a test waits for anything that only takes time (replicas starting, appends
   * committing).
   */
  static final Duration PATIENCE = Duration.ofSeconds(120);

  @TempDir Path dir;
  ReplicaProcesses replicas;
  Log log;

  @AfterEach
  void stopTheLog() throws Exception {
    if (log != null) {
      log.close();
    }
    if (replicas != null) {
      replicas.close();
    }
  }

  /** Starts {@code n} replica processes and initializes them as one log. */
  Log start(int n) throws Exception {
    replicas = new ReplicaProcesses(dir, n).startAll();
    log = replicas.client();
    await()
        .atMost(PATIENCE)
        .ignoreExceptions()
        .until(
            () -> {
              log.initialize("it-log");
              return true;
            });
    return log;
  }

  /**
   * A writer elected as a master's would be: its election waits for replicas that are still
   * starting. (Its append timeout is what turns a lost quorum into an error.)
   */
  Writer electedWriter() throws Exception {
    Writer w =
        log.writer(
            Writer.Settings.DEFAULT.withMaxBatchesInFlight(2).withElectionDeadline(PATIENCE));
    w.elect().get(PATIENCE.toSeconds() + 30, TimeUnit.SECONDS);
    return w;
  }

  /**
   * Appends {@code count} payloads named {@code prefix-i}, all in flight at once; returns their
   * positions.
   */
  static List<Long> appendAll(Writer w, String prefix, int count) throws Exception {
    List<CompletableFuture<Long>> futures = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      futures.add(w.append(ByteString.copyFromUtf8(prefix + "-" + i)));
    }
    List<Long> positions = new ArrayList<>();
    for (CompletableFuture<Long> f : futures) {
      positions.add(f.get(PATIENCE.toSeconds(), TimeUnit.SECONDS));
    }
    return positions;
  }

  static List<String> names(String prefix, int count) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      out.add(prefix + "-" + i);
    }
    return out;
  }

  /**
   * Every acknowledged payload is in the log exactly once, at its acknowledged position, and {@code
   * payloads}, in the order they were appended, are in that order in the log.
   */
  void assertLogHolds(List<String> payloads, List<Long> positions) {
    Reader r = log.reader();
    // Replicas learn what a (new) writer committed moments after it commits: wait for that.
    long last = positions.stream().mapToLong(Long::longValue).max().orElse(0);
    await().atMost(PATIENCE).ignoreExceptions().until(() -> r.ending() >= last);
    Map<Long, String> byPosition = new HashMap<>();
    Map<String, Integer> copies = new HashMap<>();
    for (LogEntry e : r.read(1, r.ending())) {
      if (e.type() == ActionType.APPEND) {
        byPosition.put(e.position(), e.payload().toStringUtf8());
        copies.merge(e.payload().toStringUtf8(), 1, Integer::sum);
      }
    }
    for (int i = 0; i < payloads.size(); i++) {
      assertThat(byPosition.get(positions.get(i)))
          .as("position %d", positions.get(i))
          .isEqualTo(payloads.get(i));
      assertThat(copies.get(payloads.get(i)))
          .as("copies of %s in the log", payloads.get(i))
          .isEqualTo(1);
    }
    assertThat(positions).isSorted();
  }

  StatusResponse statusOf(int replica) {
    return log.reader().status(replica).status();
  }
}
