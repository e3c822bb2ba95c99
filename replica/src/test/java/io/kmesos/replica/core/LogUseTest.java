package io.kmesos.replica.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.kmesos.api.log.v1.Ballot;
import io.kmesos.api.log.v1.ReplicaStatus;
import io.kmesos.api.log.v1.StatusResponse;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class LogUseTest {
  static final Quorum THREE = new Quorum(3);

  static StatusResponse empty() {
    return StatusResponse.newBuilder().setStatus(ReplicaStatus.EMPTY).setBegin(1).build();
  }

  static StatusResponse voting(String log, Ballot promised, long end) {
    return StatusResponse.newBuilder()
        .setStatus(ReplicaStatus.VOTING)
        .setClusterId(log)
        .setPromised(promised)
        .setBegin(1)
        .setEnd(end)
        .build();
  }

  static StatusResponse recovering(String log) {
    return StatusResponse.newBuilder()
        .setStatus(ReplicaStatus.RECOVERING)
        .setClusterId(log)
        .setBegin(1)
        .build();
  }

  static LogUse.Decision decide(StatusResponse... replicas) {
    return LogUse.decide("log", Arrays.asList(replicas));
  }

  // ---- an EMPTY replica ---------------------------------------------------------------------

  @Test
  void aPromiseAloneIsNoReasonToRecover() {
    assertThat(LogUse.toRecover(List.of(voting("log", Ballots.of(4, 1), 0)), THREE)).isNull();
  }

  @Test
  void anEntryAnywhereIsAReasonToRecover() {
    assertThat(LogUse.toRecover(List.of(voting("log", Ballots.NONE, 3)), THREE)).isEqualTo("log");
    StatusResponse truncated =
        voting("log", Ballots.NONE, 0).toBuilder().setBegin(5).setLearnedThrough(4).build();
    assertThat(LogUse.holdsEntries(truncated)).isTrue();
    assertThat(LogUse.toRecover(List.of(truncated), THREE)).isEqualTo("log");
  }

  @Test
  void aQuorumOfVotingPeersOfOneLogIsAReasonToRecoverOnceOneOfThemPromised() {
    assertThat(
            LogUse.toRecover(
                List.of(voting("log", Ballots.NONE, 0), voting("log", Ballots.of(1, 1), 0)), THREE))
        .isEqualTo("log");
    assertThat(
            LogUse.toRecover(
                List.of(voting("log", Ballots.NONE, 0), voting("log", Ballots.NONE, 0)), THREE))
        .as("a quorum that elected nobody: every initialize passes through it")
        .isNull();
    assertThat(
            LogUse.toRecover(
                List.of(voting("log", Ballots.of(1, 1), 0), voting("other", Ballots.of(1, 1), 0)),
                THREE))
        .as("two logs' replicas are no quorum of either")
        .isNull();
    assertThat(LogUse.toRecover(List.of(recovering("log"), empty()), THREE)).isNull();
  }

  // ---- initialize -----------------------------------------------------------------------------

  @Test
  void aNewLogIsInitialized() {
    LogUse.Decision d = decide(empty(), empty(), empty());
    assertThat(d.verdict()).isEqualTo(LogUse.Verdict.INITIALIZE);
    assertThat(d.promise()).isEqualTo(Ballots.NONE);
    assertThat(d.message()).isNull();
  }

  @Test
  void aHalfInitializedLogIsCompletedWithTheHighestPromise() {
    LogUse.Decision d = decide(voting("log", Ballots.of(4, 10), 0), empty(), empty());
    assertThat(d.verdict()).isEqualTo(LogUse.Verdict.INITIALIZE);
    assertThat(d.promise()).isEqualTo(Ballots.of(4, 10));
    assertThat(d.message())
        .isEqualTo(
            "log log is half initialized: replica 0 votes, fewer than a quorum of 2, and no"
                + " replica holds an entry, so nothing can have been chosen; initializing"
                + " replicas 1, 2 with the highest promise found (ballot 4.a)");

    LogUse.Decision five =
        LogUse.decide(
            "log",
            List.of(
                voting("log", Ballots.of(2, 1), 0),
                empty(),
                voting("log", Ballots.of(3, 1), 0),
                empty(),
                empty()));
    assertThat(five.verdict()).isEqualTo(LogUse.Verdict.INITIALIZE);
    assertThat(five.promise()).isEqualTo(Ballots.of(3, 1));
  }

  @Test
  void aQuorumVotingWithAPromiseIsInUseEvenWithoutEntriesAndEvenIfOneReplicaIsSilent() {
    LogUse.Decision d =
        decide(voting("log", Ballots.NONE, 0), null, voting("log", Ballots.of(3, 11), 0));
    assertThat(d.verdict()).isEqualTo(LogUse.Verdict.IN_USE);
    assertThat(d.message())
        .isEqualTo(
            "log log is initialized and is already in use (2 of 3 replicas vote, replica 2"
                + " promised ballot 3.b): nothing to do; a replica that lost its data recovers by"
                + " itself");
    assertThat(
            decide(voting("log", Ballots.of(1, 1), 7), empty(), voting("log", Ballots.NONE, 9))
                .message())
        .startsWith(
            "log log is initialized and is already in use (replica 2 holds positions up to 9)");
  }

  @Test
  void aQuorumVotingWithoutAPromiseHasTheRestInitialized() {
    LogUse.Decision d =
        decide(voting("log", Ballots.NONE, 0), voting("log", Ballots.NONE, 0), empty());
    assertThat(d.verdict()).isEqualTo(LogUse.Verdict.INITIALIZE);
    assertThat(d.promise()).isEqualTo(Ballots.NONE);
    assertThat(d.message())
        .isEqualTo(
            "log log is half initialized: replicas 0, 1 vote but none has promised and no replica"
                + " holds an entry, so no writer was elected; initializing replica 2");
    assertThat(
            decide(
                    voting("log", Ballots.NONE, 0),
                    voting("log", Ballots.NONE, 0),
                    recovering("log"))
                .verdict())
        .as("the recovering replica finishes by itself: it has a quorum to copy from")
        .isEqualTo(LogUse.Verdict.INITIALIZE);
    assertThat(
            decide(voting("log", Ballots.NONE, 0), voting("log", Ballots.NONE, 0), null).verdict())
        .isEqualTo(LogUse.Verdict.UNKNOWN);
  }

  @Test
  void withoutEveryAnswerNothingIsInitializedUnlessAQuorumVotes() {
    assertThat(decide(voting("log", Ballots.of(1, 1), 0), empty(), null).verdict())
        .isEqualTo(LogUse.Verdict.UNKNOWN);
    assertThat(decide(null, null, null).verdict()).isEqualTo(LogUse.Verdict.UNKNOWN);
    assertThat(decide(voting("log", Ballots.NONE, 4), empty(), null).verdict())
        .as("an entry with a silent replica: maybe a quorum votes, maybe a majority was lost")
        .isEqualTo(LogUse.Verdict.UNKNOWN);
  }

  @Test
  void entriesWithFewerThanAQuorumVotingMeanAMajorityLostItsData() {
    LogUse.Decision d = decide(voting("log", Ballots.of(2, 1), 5), empty(), recovering("log"));
    assertThat(d.verdict()).isEqualTo(LogUse.Verdict.DATA_LOST);
    assertThat(d.message())
        .isEqualTo(
            "log log holds entries (replica 0 holds positions up to 5) but only 1 of 3 replicas"
                + " vote (0 VOTING, 1 EMPTY, 2 RECOVERING): a majority of the replicas lost their"
                + " data, and entries may have been chosen that no replica holds any more; not"
                + " initializing them afresh. Restore the replicas' data, or wipe every replica"
                + " and initialize a new log");
  }

  @Test
  void recoveringReplicasThatCannotFinishAreNamed() {
    LogUse.Decision d = decide(voting("log", Ballots.of(2, 1), 0), recovering("log"), empty());
    assertThat(d.verdict()).isEqualTo(LogUse.Verdict.STUCK);
    assertThat(d.message())
        .startsWith("log log: only 1 of 3 replicas vote (0 VOTING, 1 RECOVERING, 2 EMPTY)")
        .contains("replica 1 is RECOVERING and cannot finish");
  }

  @Test
  void anotherLogIsRefused() {
    assertThat(decide(voting("other", Ballots.NONE, 0), empty(), empty()).message())
        .isEqualTo("replica 0 is already VOTING in log other, not initializing log log");
    assertThat(decide(voting("other", Ballots.NONE, 3), empty(), empty()))
        .extracting(LogUse.Decision::verdict, LogUse.Decision::message)
        .containsExactly(
            LogUse.Verdict.FOREIGN,
            "log other is already in use (replica 0 holds positions up to 3), not initializing"
                + " log log");
  }
}
