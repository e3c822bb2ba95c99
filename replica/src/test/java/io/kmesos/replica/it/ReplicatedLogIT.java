package io.kmesos.replica.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.kmesos.api.log.v1.ActionType;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.ReplicaGrpc;
import io.kmesos.api.log.v1.ReplicaStatus;
import io.kmesos.api.log.v1.StatusRequest;
import io.kmesos.api.tls.Identity;
import io.kmesos.replica.client.SupersededException;
import io.kmesos.replica.client.UnavailableException;
import io.kmesos.replica.client.Writer;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The log as separate replica JVMs on 127.0.0.1 with real RocksDB, driven through the client
 * library, under kill -9, wiped disks, lost quorums and racing writers. After each, every
 * acknowledged append is present exactly once and in order.
 */
class ReplicatedLogIT extends LogProcessesTest {
  @Test
  void pipelinedAppendsAreCommittedInOrderAndReadBack() throws Exception {
    start(3);
    Writer w = electedWriter();
    List<Long> positions = appendAll(w, "a", 2000);
    assertThat(positions).doesNotHaveDuplicates().isSorted();
    assertLogHolds(names("a", 2000), positions);

    w.close();

    // With the default writer's batching (as State uses it; a longer append timeout, for a loaded
    // machine): the largest entry goes through (it travels alone, beyond the batch limit); one byte
    // more is refused on the spot with the limit named, and the writer goes on.
    try (Writer large =
        log.writer(Writer.Settings.DEFAULT.withAppendTimeout(Duration.ofSeconds(60)))) {
      large.elect().get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
      byte[] largest = new byte[Writer.MAX_ENTRY_BYTES];
      Arrays.fill(largest, (byte) 'x');
      long big = large.append(largest).get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
      assertThatThrownBy(
              () -> large.append(new byte[Writer.MAX_ENTRY_BYTES + 1]).get(10, TimeUnit.SECONDS))
          .hasCauseInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("an entry holds at most 12 MiB");
      long after =
          large
              .append(ByteString.copyFromUtf8("after"))
              .get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
      assertThat(after).isEqualTo(big + 1);
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () ->
                  assertThat(log.reader().read(big, after))
                      .extracting(e -> e.payload().size())
                      .containsExactly(Writer.MAX_ENTRY_BYTES, 5));
    }
  }

  @Test
  void losingAMinorityKeepsTheLogWritableAndTheReplicaCatchesUp() throws Exception {
    start(3);
    Writer w = electedWriter();
    List<Long> before = appendAll(w, "before", 300);
    replicas.kill(2);
    List<Long> during = appendAll(w, "during", 300);
    replicas.start(2);
    long ending = during.get(during.size() - 1);
    await()
        .atMost(PATIENCE)
        .until(() -> statusOf(2) != null && statusOf(2).getLearnedThrough() >= ending);
    List<Long> all = new ArrayList<>(before);
    all.addAll(during);
    List<String> payloads = new ArrayList<>(names("before", 300));
    payloads.addAll(names("during", 300));
    assertLogHolds(payloads, all);
    w.close();
  }

  @Test
  void losingAMajorityIsAClearErrorAndLosesNothingCommitted() throws Exception {
    start(3);
    Writer w = electedWriter();
    List<Long> committed = appendAll(w, "kept", 100);
    replicas.kill(1);
    replicas.kill(2);
    assertThatThrownBy(
            () ->
                w.append(ByteString.copyFromUtf8("lost"))
                    .get(PATIENCE.toSeconds(), TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOf(UnavailableException.class)
        .hasMessageContaining("no quorum");
    replicas.start(1);
    replicas.start(2);
    // Elected at once, while the two replicas are still starting, as a master that starts with them
    // would be: the election waits for them (and the channels to them, which failed a moment ago,
    // reconnect within a second of their coming back instead of after gRPC's growing back-off).
    Writer next = electedWriter();
    assertThat(log.reader().ending()).isGreaterThanOrEqualTo(committed.get(committed.size() - 1));
    assertLogHolds(names("kept", 100), committed);
    next.close();
    w.close();
  }

  @Test
  void anElectionThatStartsWhileAMajorityIsDownWaitsForItToComeBack() throws Exception {
    start(3);
    Writer first = electedWriter();
    List<Long> committed = appendAll(first, "before", 100);
    first.close();
    replicas.kill(1);
    replicas.kill(2);
    // One attempt of this writer's election lasts 2 s; its deadline is far longer.
    Writer next =
        log.writer(
            Writer.Settings.DEFAULT
                .withMaxBatchesInFlight(2)
                .withElectionAttempt(Duration.ofSeconds(2))
                .withElectionDeadline(PATIENCE));
    CompletableFuture<Long> election = next.elect();
    // The majority stays down for several attempts (a slow restart), and the election goes on.
    await()
        .during(Duration.ofSeconds(8))
        .atMost(Duration.ofSeconds(40))
        .until(() -> !election.isDone());
    replicas.start(1);
    replicas.start(2);
    long ending = election.get(PATIENCE.toSeconds() + 30, TimeUnit.SECONDS);
    assertThat(ending).isGreaterThanOrEqualTo(committed.get(committed.size() - 1));
    List<Long> after = appendAll(next, "after", 100);
    List<Long> all = new ArrayList<>(committed);
    all.addAll(after);
    List<String> payloads = new ArrayList<>(names("before", 100));
    payloads.addAll(names("after", 100));
    assertLogHolds(payloads, all);
    next.close();
  }

  @Test
  void aWipedReplicaRecoversBeforeItVotesAgain() throws Exception {
    start(5);
    Writer w = electedWriter();
    List<Long> first = appendAll(w, "first", 500);
    replicas.kill(4);
    replicas.wipe(4);
    replicas.start(4);
    List<ReplicaStatus> seen = new ArrayList<>();
    CompletableFuture<List<Long>> more =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return appendAll(w, "more", 500);
              } catch (Exception e) {
                throw new RuntimeException(e);
              }
            });
    await()
        .atMost(PATIENCE)
        .pollInterval(Duration.ofMillis(20))
        .until(
            () -> {
              var s = statusOf(4);
              if (s != null && (seen.isEmpty() || seen.get(seen.size() - 1) != s.getStatus())) {
                seen.add(s.getStatus());
              }
              return s != null && s.getStatus() == ReplicaStatus.VOTING;
            });
    assertThat(seen)
        .as("statuses of the wiped replica, in order")
        .contains(ReplicaStatus.RECOVERING)
        .endsWith(ReplicaStatus.VOTING);
    assertThat(seen.indexOf(ReplicaStatus.VOTING)).isEqualTo(seen.size() - 1);
    List<Long> second = more.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
    long ending = second.get(second.size() - 1);
    await().atMost(PATIENCE).until(() -> statusOf(4).getLearnedThrough() >= ending);
    List<Long> all = new ArrayList<>(first);
    all.addAll(second);
    List<String> payloads = new ArrayList<>(names("first", 500));
    payloads.addAll(names("more", 500));
    assertLogHolds(payloads, all);
    w.close();
  }

  @Test
  void killingTheWriterProcessAndAReplicaUnderLoadLosesNothingAcknowledged() throws Exception {
    start(3);
    Path acks = dir.resolve("acks.txt");
    Process writer =
        new ProcessBuilder(
                ReplicaProcesses.java(),
                "-jar",
                ReplicaProcesses.JAR.toString(),
                "append",
                "--peers",
                replicas.peerList(),
                "--tls-dir",
                replicas.tlsDir(Identity.ADMIN))
            .redirectOutput(acks.toFile())
            .redirectError(dir.resolve("append.err").toFile())
            .start();
    Thread feeder =
        new Thread(
            () -> {
              try (var in = new PrintStream(writer.getOutputStream(), true)) {
                for (int i = 0; i < 200_000 && writer.isAlive(); i++) {
                  in.println("line-" + i);
                }
              } catch (Exception ignored) {
                // the writer was killed
              }
            });
    feeder.start();
    await().atMost(PATIENCE).until(() -> Files.readAllLines(acks).size() >= 1000);
    replicas.kill(1); // a replica dies under load; the writer goes on with the other two
    int atReplicaKill = Files.readAllLines(acks).size();
    await().atMost(PATIENCE).until(() -> Files.readAllLines(acks).size() >= atReplicaKill + 1000);
    writer.destroyForcibly(); // kill -9 of the writer mid-stream
    assertThat(writer.waitFor(60, TimeUnit.SECONDS)).isTrue();
    feeder.join(60_000);
    replicas.start(1);

    // Only complete lines were acknowledged; a torn last line was not.
    String written = Files.readString(acks);
    List<String> lines = List.of(written.substring(0, written.lastIndexOf('\n') + 1).split("\n"));
    List<Long> positions = new ArrayList<>();
    List<String> payloads = new ArrayList<>();
    for (String l : lines) {
      String[] f = l.split("\t");
      positions.add(Long.parseLong(f[0]));
      payloads.add(f[1]);
    }
    assertThat(payloads).hasSizeGreaterThanOrEqualTo(2000);

    Writer next = electedWriter(); // decides whatever the dead writer left in flight
    assertLogHolds(payloads, positions);
    List<Integer> order =
        log.reader().read(1, log.reader().ending()).stream()
            .filter(e -> e.type() == ActionType.APPEND)
            .map(e -> Integer.parseInt(e.payload().toStringUtf8().substring("line-".length())))
            .toList();
    assertThat(order).as("lines in the log keep the order they were written in").isSorted();
    next.close();
  }

  @Test
  void racingWritersNeverForkTheLog() throws Exception {
    start(3);
    Writer first = electedWriter();
    List<Long> a = appendAll(first, "first", 50);
    Writer second = electedWriter();
    assertThatThrownBy(
            () ->
                first
                    .append(ByteString.copyFromUtf8("stale"))
                    .get(PATIENCE.toSeconds(), TimeUnit.SECONDS))
        .cause()
        .isInstanceOf(SupersededException.class);
    List<Long> b = appendAll(second, "second", 50);
    assertThat(b.get(0)).isGreaterThan(a.get(a.size() - 1));
    List<Long> all = new ArrayList<>(a);
    all.addAll(b);
    List<String> payloads = new ArrayList<>(names("first", 50));
    payloads.addAll(names("second", 50));
    assertLogHolds(payloads, all);
    assertThat(log.reader().read(1, log.reader().ending()))
        .noneMatch(e -> e.payload().toStringUtf8().equals("stale"));
    first.close();
    second.close();
  }

  @Test
  void malformedRequestsGetInvalidArgumentAndTheReplicaGoesOn() throws Exception {
    start(3);
    ManagedChannel ch = replicas.channel(0);
    try {
      var stub = ReplicaGrpc.newBlockingStub(ch).withDeadlineAfter(60, TimeUnit.SECONDS);
      assertThatThrownBy(() -> stub.call(Envelope.newBuilder().setTo(0).build()))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                assertThat(e.getStatus().getDescription()).contains("no message");
              });
      assertThatThrownBy(
              () ->
                  stub.call(
                      Envelope.newBuilder()
                          .setTo(2)
                          .setStatusRequest(StatusRequest.getDefaultInstance())
                          .build()))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                assertThat(e.getStatus().getDescription())
                    .contains("addressed to replica 2, but this is replica 0");
              });
      assertThat(
              stub.call(
                      Envelope.newBuilder()
                          .setTo(0)
                          .setStatusRequest(StatusRequest.getDefaultInstance())
                          .build())
                  .getStatusResponse()
                  .getStatus())
          .isEqualTo(ReplicaStatus.VOTING);
    } finally {
      ch.shutdownNow();
    }
  }

  @Test
  void foreignAndCorruptDataIsRefusedWithAClearErrorAndLeftUntouched() throws Exception {
    start(3);
    Writer w = electedWriter();
    appendAll(w, "x", 20);
    w.close();

    // Another log's data: refused.
    replicas.kill(1);
    Process other = replicas.start(1, "--cluster-id", "some-other-log");
    assertThat(other.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS)).isTrue();
    assertThat(other.exitValue()).isNotZero();
    assertThat(replicas.log(1))
        .contains("holds replica 1 of log it-log, not of log some-other-log");

    // A directory that is not a replica database: refused, and the file is still there.
    Path foreign = dir.resolve("not-a-replica");
    Files.createDirectories(foreign);
    Files.writeString(foreign.resolve("notes.txt"), "precious");
    Process p =
        new ProcessBuilder(
                ReplicaProcesses.java(),
                "-jar",
                ReplicaProcesses.JAR.toString(),
                "replica",
                "--id",
                "1",
                "--peers",
                replicas.peerList(),
                "--data-dir",
                foreign.toString(),
                "--tls-dir",
                replicas.tlsDir(Identity.REPLICA))
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).isNotZero();
    assertThat(out)
        .contains("is not empty and is not a kmesos replica database")
        .doesNotContain("\tat ");
    assertThat(Files.readString(foreign.resolve("notes.txt"))).isEqualTo("precious");

    // A corrupt record: the replica refuses to start and names the position.
    replicas.kill(2);
    CorruptRecords.flipByteOfAction(replicas.dataDir(2), 5);
    Process corrupt = replicas.start(2);
    assertThat(corrupt.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS)).isTrue();
    assertThat(corrupt.exitValue()).isNotZero();
    assertThat(replicas.log(2)).contains("action at position 5: checksum mismatch");
  }
}
