package io.kmesos.replica.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kmesos.api.log.v1.ReplicaStatus;
import io.kmesos.api.tls.Identity;
import io.kmesos.replica.client.Log;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code kmesos-log} as a new user meets it: the real jar against real replica processes, and the
 * exact lines a user reads when something is wrong — one line, no Java class names, saying why.
 */
class LogToolIT extends LogProcessesTest {
  record Result(int exit, String out, String err) {
    List<String> lines() {
      return out.lines().toList();
    }
  }

  /** Runs {@code kmesos-log args...} as a user would, with {@code stdin} as its input. */
  Result runWithInput(String stdin, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ReplicaProcesses.java()));
    cmd.addAll(ReplicaProcesses.TEST_JVM);
    cmd.addAll(List.of("-jar", ReplicaProcesses.JAR.toString()));
    cmd.addAll(List.of(args));
    Path out = Files.createTempFile(dir, "out", ".txt");
    Path err = Files.createTempFile(dir, "err", ".txt");
    ProcessBuilder pb =
        new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
    pb.environment()
        .keySet()
        .removeIf(name -> name.endsWith("PEERS") && name.startsWith("KMESOS_"));
    // As an operator's shell has it: the admin certificate of this run's CA.
    pb.environment()
        .put("KMESOS_TLS_DIR", ReplicaProcesses.certificates(dir).dir(Identity.ADMIN).toString());
    Process p = pb.start();
    try (var in = p.getOutputStream()) {
      in.write(stdin.getBytes(StandardCharsets.UTF_8));
    }
    if (!p.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(
          "kmesos-log " + String.join(" ", args) + " did not finish within " + PATIENCE);
    }
    return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
  }

  /** Runs {@code kmesos-log args...} with no TLS settings in its environment. */
  Result runWithoutTls(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ReplicaProcesses.java()));
    cmd.addAll(ReplicaProcesses.TEST_JVM);
    cmd.addAll(List.of("-jar", ReplicaProcesses.JAR.toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb =
        new ProcessBuilder(cmd)
            .redirectOutput(dir.resolve("no-tls.out").toFile())
            .redirectError(dir.resolve("no-tls.err").toFile());
    pb.environment()
        .keySet()
        .removeIf(name -> name.endsWith("PEERS") && name.startsWith("KMESOS_"));
    pb.environment().remove("KMESOS_TLS_DIR");
    Process p = pb.start();
    if (!p.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(
          "kmesos-log " + String.join(" ", args) + " did not finish within " + PATIENCE);
    }
    return new Result(
        p.exitValue(),
        Files.readString(dir.resolve("no-tls.out")),
        Files.readString(dir.resolve("no-tls.err")));
  }

  Result run(String... args) throws Exception {
    return runWithInput("", args);
  }

  static String statusRow(int replica, String address, String rest) {
    return String.format("%-8d %-24s %s", replica, address, rest);
  }

  @Test
  void noReplicaReachableIsOneLineSayingTheConnectionWasRefused() throws Exception {
    String nobody = "127.0.0.1:" + ReplicaProcesses.freePort();
    // A refusal comes at once; the generous timeouts only keep a loaded machine's slow first
    // connection attempt (a new JVM loading netty) from being reported as a timeout instead.
    String patient = "--request-timeout=30s";

    Result status = run("status", "--peers", nobody, patient);
    assertThat(status.exit()).isEqualTo(2);
    assertThat(status.lines())
        .hasSize(2)
        .last()
        .isEqualTo(statusRow(0, nobody, "unreachable: connection refused"));
    assertThat(status.err()).isEmpty();

    Result read = run("read", "--peers", nobody, patient);
    assertThat(read.exit()).isEqualTo(1);
    assertThat(read.err())
        .isEqualTo(
            "kmesos-log read: no voting replica answered (" + nobody + ": connection refused)\n");

    Result append =
        runWithInput("hello\n", "append", "--peers", nobody, "--election-timeout", "10s");
    assertThat(append.exit()).isEqualTo(1);
    assertThat(append.err())
        .isEqualTo(
            "kmesos-log append: election failed: no quorum of voting replicas answered "
                + "within 10 s ("
                + nobody
                + ": connection refused)\n");
    assertThat(append.out()).isEmpty();

    Result initialize = run("initialize", "--peers", nobody, "--cluster-id", "x", patient);
    assertThat(initialize.exit()).isEqualTo(1);
    assertThat(initialize.err())
        .isEqualTo(
            "kmesos-log initialize: initialize did not reach every replica: replica 0 ("
                + nobody
                + "): connection refused\n");
  }

  @Test
  void aReplicaThatDoesNotAnswerInTimeIsNamedAndTheOthersStillServe() throws Exception {
    replicas = new ReplicaProcesses(dir, 3).startAll();
    String peers = replicas.peerList();
    try (Log log = replicas.client()) {
      await()
          .atMost(PATIENCE)
          .ignoreExceptions()
          .until(
              () -> {
                log.initialize("tool-it");
                return true;
              });
    }
    Result append = runWithInput("one\ntwo\n", "append", "--peers", peers);
    assertThat(append.exit()).as(append.err()).isZero();
    assertThat(append.out()).isEqualTo("1\tone\n2\ttwo\n");

    // Run again (a Job retried after its first try reached only a quorum, which a master then
    // used): nothing to do, and no error. Under another log ID: an error, nothing changed.
    Result again = run("initialize", "--peers", peers, "--cluster-id", "tool-it");
    assertThat(again.exit()).as(again.err()).isZero();
    assertThat(again.out())
        .startsWith("log tool-it is initialized and is already in use (replica ")
        .endsWith(": nothing to do; a replica that lost its data recovers by itself\n");
    Result foreign = run("initialize", "--peers", peers, "--cluster-id", "another");
    assertThat(foreign.exit()).isEqualTo(1);
    assertThat(foreign.err())
        .startsWith("kmesos-log initialize: log tool-it is already in use (replica ")
        .endsWith(", not initializing log another\n");

    replicas.pause(0); // SIGSTOP: connections are accepted, nothing is answered
    // The live replicas must answer a new tool process within this, also on a loaded machine.
    String timeout = "--request-timeout=10s";
    try {
      String paused = replicas.peers.get(0);
      Result status = run("status", "--peers", peers, timeout);
      assertThat(status.exit()).isEqualTo(2);
      assertThat(status.lines()).hasSize(4);
      assertThat(status.lines().get(1))
          .isEqualTo(statusRow(0, paused, "unreachable: timed out: no answer within 10 s"));
      assertThat(status.lines().get(2)).startsWith(statusRow(1, replicas.peers.get(1), "VOTING"));
      assertThat(status.lines().get(3)).startsWith(statusRow(2, replicas.peers.get(2), "VOTING"));

      Result one = run("status", "--peers", peers, "--replica", "0", timeout);
      assertThat(one.exit()).isEqualTo(2);
      assertThat(one.lines())
          .hasSize(2)
          .last()
          .isEqualTo(statusRow(0, paused, "unreachable: timed out: no answer within 10 s"));

      Result other = run("status", "--peers", peers, "--replica", replicas.peers.get(2), timeout);
      assertThat(other.exit()).isZero();
      assertThat(other.lines())
          .hasSize(2)
          .last()
          .asString()
          .startsWith(statusRow(2, replicas.peers.get(2), "VOTING"));

      Result readPaused = run("read", "--peers", peers, "--replica", "0", timeout);
      assertThat(readPaused.exit()).isEqualTo(1);
      assertThat(readPaused.err())
          .isEqualTo(
              "kmesos-log read: replica 0 (" + paused + "): timed out: no answer within 10 s\n");

      // Two replicas of three are a quorum: appends go on, with the timeouts given as flags. (This
      // writer's election also settles that the first writer's lines are learned: a writer that
      // exits right after its last commit may not have told the replicas.)
      Result more =
          runWithInput(
              "three\n",
              "append",
              "--peers",
              peers,
              "--election-timeout",
              "60s",
              "--append-timeout",
              "30s");
      assertThat(more.exit()).as(more.err()).isZero();
      assertThat(more.out()).isEqualTo("3\tthree\n");

      Result fromOne =
          run("read", "--peers", peers, "--replica", "1", "--from", "1", "--to", "2", timeout);
      assertThat(fromOne.exit()).as(fromOne.err()).isZero();
      assertThat(fromOne.out()).isEqualTo("1\tAPPEND\t3\tone\n2\tAPPEND\t3\ttwo\n");
      Result readAll = run("read", "--peers", peers, "--from", "1", "--to", "2", timeout);
      assertThat(readAll.exit()).as(readAll.err()).isZero();
      assertThat(readAll.out()).isEqualTo("1\tAPPEND\t3\tone\n2\tAPPEND\t3\ttwo\n");
    } finally {
      replicas.resume(0);
    }
  }

  /**
   * The real node's install, by hand: the first initialize reaches one replica only, a writer
   * campaigns before the rest is initialized (replica 0 promises, the election fails), and running
   * initialize again completes the log: the EMPTY replicas neither took the promise for a log in
   * use nor were left out.
   */
  @Test
  void initializeAgainCompletesALogAWriterCampaignedOnWhileItWasHalfInitialized() throws Exception {
    replicas = new ReplicaProcesses(dir, 3).startAll();
    String peers = replicas.peerList();
    String first = replicas.peers.get(0);
    log = replicas.client();
    await()
        .atMost(PATIENCE)
        .until(() -> log.reader().status().stream().allMatch(s -> s.status() != null));

    Result half = run("initialize", "--peers", first, "--cluster-id", "half-it");
    assertThat(half.exit()).as(half.err()).isZero();
    assertThat(half.out()).isEqualTo("replica 0 (" + first + "): VOTING in log half-it\n");

    Result early = runWithInput("early\n", "append", "--peers", peers, "--election-timeout", "5s");
    assertThat(early.exit()).as("one voting replica of three is no quorum").isEqualTo(1);
    assertThat(early.err()).startsWith("kmesos-log append: election failed: ");
    long round = log.reader().status(0).status().getPromised().getRound();
    assertThat(round).as("replica 0 promised the writer's ballot").isPositive();

    Result complete = run("initialize", "--peers", peers, "--cluster-id", "half-it");
    assertThat(complete.exit()).as(complete.err()).isZero();
    assertThat(complete.lines())
        .hasSize(4)
        .first()
        .asString()
        .startsWith(
            "log half-it is half initialized: replica 0 votes, fewer than a quorum of 2, and no"
                + " replica holds an entry, so nothing can have been chosen; initializing replicas"
                + " 1, 2 with the highest promise found (ballot "
                + round
                + ".");
    for (int r = 0; r < 2; r++) {
      assertThat(complete.lines().get(1 + r))
          .isEqualTo("replica " + r + " (" + replicas.peers.get(r) + "): VOTING in log half-it");
    }
    // Replicas 0 and 1 are a quorum, and 0 promised: replica 2 may have taken the log for one in
    // use (a writer could have been elected) before its turn came. Either way it votes.
    assertThat(complete.lines().get(3))
        .isIn(
            "replica 2 (" + replicas.peers.get(2) + "): VOTING in log half-it",
            "replica 2 ("
                + replicas.peers.get(2)
                + "): RECOVERING in log half-it: a quorum votes, it copies their log and then"
                + " votes");

    Result append =
        runWithInput("after\n", "append", "--peers", peers, "--election-timeout", "60s");
    assertThat(append.exit()).as(append.err()).isZero();
    assertThat(append.out()).isEqualTo("1\tafter\n");
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                log.reader().status().stream()
                    .allMatch(
                        s -> s.status() != null && s.status().getStatus() == ReplicaStatus.VOTING));
    Result status = run("status", "--peers", peers);
    assertThat(status.exit()).as(status.err()).isZero();
    for (int r = 0; r < 3; r++) {
      assertThat(status.lines().get(1 + r))
          .startsWith(statusRow(r, replicas.peers.get(r), "VOTING"));
    }

    Result again = run("initialize", "--peers", peers, "--cluster-id", "half-it");
    assertThat(again.exit()).as(again.err()).isZero();
    assertThat(again.out())
        .startsWith("log half-it is initialized and is already in use (replica ")
        .endsWith(": nothing to do; a replica that lost its data recovers by itself\n");
  }

  @Test
  void badFlagsAreOneLinePointingAtHelp() throws Exception {
    Result unknown = run("append", "--bogus");
    assertThat(unknown.exit()).isEqualTo(2);
    assertThat(unknown.err())
        .isEqualTo("kmesos-log append: Unknown option: '--bogus' (see kmesos-log append --help)\n");

    Result duration = run("append", "--peers", "127.0.0.1:1", "--election-timeout", "5x");
    assertThat(duration.exit()).isEqualTo(2);
    assertThat(duration.err())
        .isEqualTo(
            "kmesos-log append: Invalid value for option '--election-timeout': '5x' is not a "
                + "duration like 500ms, 15s, 2m, 1h or 7d (see kmesos-log append --help)\n");

    Result noPeers = run("status");
    assertThat(noPeers.exit()).isEqualTo(2);
    assertThat(noPeers.err())
        .isEqualTo(
            "kmesos-log status: --peers is missing: name every replica of the log (or set "
                + "$KMESOS_PEERS) (see kmesos-log status --help)\n");

    Result noTls = runWithoutTls("status", "--peers", "127.0.0.1:1");
    assertThat(noTls.exit()).isEqualTo(2);
    assertThat(noTls.err())
        .isEqualTo(
            "kmesos-log status: --tls-dir is missing: every kmesos connection is mutual TLS; "
                + "name the directory of this process's ca.crt, tls.crt and tls.key (or set $KMESOS_TLS_DIR, or give --tls-ca, "
                + "--tls-cert and --tls-key) (see kmesos-log status --help)\n");

    Result noSuchDir =
        run("status", "--peers", "127.0.0.1:1", "--tls-dir", dir.resolve("nowhere").toString());
    assertThat(noSuchDir.exit()).isEqualTo(2);
    assertThat(noSuchDir.err())
        .isEqualTo(
            "kmesos-log status: TLS: "
                + dir.resolve("nowhere")
                + " is not a directory (it "
                + "must hold ca.crt, tls.crt and tls.key) (see kmesos-log status --help)\n");

    Result noSuchReplica = run("read", "--peers", "127.0.0.1:1,127.0.0.1:2", "--replica", "5");
    assertThat(noSuchReplica.exit()).isEqualTo(2);
    assertThat(noSuchReplica.err())
        .isEqualTo(
            "kmesos-log read: --replica 5 is not one of the 2 replicas in --peers "
                + "(an index 0..1 or one of their addresses) (see kmesos-log read --help)\n");
  }
}
