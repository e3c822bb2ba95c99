package io.kmesos.replica.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.ActionType;
import io.kmesos.api.log.v1.Ballot;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.FetchResponse;
import io.kmesos.api.log.v1.PromiseResponse;
import io.kmesos.api.log.v1.WriteRequest;
import io.kmesos.api.log.v1.WriteResponse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class CoordinatorTest {
  final Coordinator writer =
      new Coordinator(100, 7, 3, new Coordinator.Config(5, 50, 2, 1000, 1 << 20));

  Effects promised(int replica, long learnedThrough, long end, Action... tail) {
    return writer.handle(
        Envelope.newBuilder()
            .setFrom(replica)
            .setTo(100)
            .setPromiseResponse(
                PromiseResponse.newBuilder()
                    .setBallot(writer.ballot())
                    .setOk(true)
                    .setPromised(writer.ballot())
                    .setBegin(1)
                    .setLearnedThrough(learnedThrough)
                    .setEnd(end)
                    .addAllTail(List.of(tail)))
            .build());
  }

  Effects accepted(int replica, long... positions) {
    WriteResponse.Builder r = WriteResponse.newBuilder().setBallot(writer.ballot()).setOk(true);
    for (long p : positions) {
      r.addPositions(p);
    }
    return writer.handle(
        Envelope.newBuilder().setFrom(replica).setTo(100).setWriteResponse(r).build());
  }

  static Action accepted(long position, Ballot b, String payload) {
    return Action.newBuilder()
        .setPosition(position)
        .setBallot(b)
        .setType(ActionType.APPEND)
        .setPayload(ByteString.copyFromUtf8(payload))
        .build();
  }

  @Test
  void electionReproposesTheHighestBallotValueAndFillsHolesWithNops() {
    writer.elect();
    promised(0, 3, 6, accepted(4, Ballots.of(0, 1), "old"), accepted(6, Ballots.of(0, 1), "x"));
    Effects fill = promised(1, 3, 6, accepted(4, Ballots.of(0, 2), "newer"));

    WriteRequest w = fill.messages().get(0).getWriteRequest();
    assertThat(w.getActionsList()).extracting(Action::getPosition).containsExactly(4L, 5L, 6L);
    assertThat(w.getActions(0).getPayload().toStringUtf8()).isEqualTo("newer");
    assertThat(w.getActions(1).getType()).isEqualTo(ActionType.NOP);
    assertThat(w.getActions(2).getPayload().toStringUtf8()).isEqualTo("x");
    assertThat(w.getActionsList())
        .allSatisfy(a -> assertThat(a.getBallot()).isEqualTo(writer.ballot()));
    assertThat(writer.status()).isEqualTo(Coordinator.Status.FILLING);

    accepted(0, 4, 5, 6);
    Effects done = accepted(2, 4, 5, 6);
    assertThat(done.events()).containsExactly(new Event.Elected(writer.ballot(), 6));
    assertThat(writer.status()).isEqualTo(Coordinator.Status.WRITING);
  }

  @Test
  void whatOnlyTheMostAdvancedPromiserLearnedIsCopiedAndDecidedAgain() {
    writer.elect();
    promised(0, 2, 4);
    Effects fetch = promised(1, 3, 4);
    assertThat(writer.status()).isEqualTo(Coordinator.Status.FETCHING);
    Envelope ask = fetch.messages().get(0);
    assertThat(ask.getTo()).isEqualTo(1);
    assertThat(ask.getFetchRequest().getFrom()).isEqualTo(3);
    assertThat(ask.getFetchRequest().getLearnedOnly()).isTrue();

    Effects fill =
        writer.handle(
            Envelope.newBuilder()
                .setFrom(1)
                .setTo(100)
                .setFetchResponse(
                    FetchResponse.newBuilder()
                        .setOk(true)
                        .setNonce(ask.getFetchRequest().getNonce())
                        .setFrom(3)
                        .setTo(3)
                        .setBegin(1)
                        .setLearnedThrough(3)
                        .addActions(
                            accepted(3, Ballots.of(0, 1), "learned").toBuilder().setLearned(true)))
                .build());
    WriteRequest w = fill.messages().get(0).getWriteRequest();
    assertThat(w.getActionsList()).extracting(Action::getPosition).containsExactly(3L, 4L);
    assertThat(w.getActions(0).getPayload().toStringUtf8()).isEqualTo("learned");
    assertThat(w.getActions(0).getLearned()).isFalse();
  }

  @Test
  void commitsAreReportedInPositionOrderOnceAQuorumAccepted() {
    writer.elect();
    promised(0, 0, 0);
    promised(1, 0, 0);
    long a = writer.append(ByteString.copyFromUtf8("a"));
    long b = writer.append(ByteString.copyFromUtf8("b"));
    assertThat(writer.append(ByteString.copyFromUtf8("c"))).as("bounded in flight").isEqualTo(-1);
    writer.flush();

    assertThat(accepted(0, b).events()).isEmpty();
    assertThat(accepted(1, b).events()).as("b has a quorum, but a is not committed yet").isEmpty();
    assertThat(accepted(2, a).events()).isEmpty();
    assertThat(accepted(0, a).events())
        .containsExactly(new Event.Committed(a), new Event.Committed(b));
  }

  @Test
  void aHigherPromiseSupersedesTheWriterForGood() {
    writer.elect();
    promised(0, 0, 0);
    promised(1, 0, 0);
    writer.append(ByteString.copyFromUtf8("a"));
    writer.flush();
    Ballot higher = Ballots.of(writer.ballot().getRound() + 1, 9);
    Effects e =
        writer.handle(
            Envelope.newBuilder()
                .setFrom(2)
                .setTo(100)
                .setWriteResponse(
                    WriteResponse.newBuilder()
                        .setBallot(writer.ballot())
                        .setOk(false)
                        .setPromised(higher))
                .build());
    assertThat(e.events()).containsExactly(new Event.Superseded(higher, 0));
    assertThat(writer.inFlight()).isZero();
    assertThatThrownBy(() -> writer.append(ByteString.copyFromUtf8("b")))
        .hasMessageContaining("superseded");
    assertThat(accepted(0, 1).events()).as("late acceptances change nothing").isEmpty();
  }

  @Test
  void appendsWaitWhileTheBatchesInFlightAreFullAndThenLeaveTogether() {
    Coordinator w = new Coordinator(100, 7, 3, new Coordinator.Config(5, 50, 100, 1, 1 << 20));
    w.elect();
    for (int r = 0; r < 2; r++) {
      w.handle(
          Envelope.newBuilder()
              .setFrom(r)
              .setTo(100)
              .setPromiseResponse(
                  PromiseResponse.newBuilder()
                      .setBallot(w.ballot())
                      .setOk(true)
                      .setPromised(w.ballot())
                      .setBegin(1))
              .build());
    }
    long a = w.append(ByteString.copyFromUtf8("a"));
    assertThat(w.flush().messages()).hasSize(3);
    long b = w.append(ByteString.copyFromUtf8("b"));
    long c = w.append(ByteString.copyFromUtf8("c"));
    assertThat(w.flush().messages()).as("one batch is already in flight").isEmpty();

    for (int r = 0; r < 2; r++) {
      w.handle(
          Envelope.newBuilder()
              .setFrom(r)
              .setTo(100)
              .setWriteResponse(
                  WriteResponse.newBuilder().setBallot(w.ballot()).setOk(true).addPositions(a))
              .build());
    }
    List<Envelope> next = w.flush().messages();
    assertThat(next)
        .hasSize(3)
        .allSatisfy(
            m ->
                assertThat(m.getWriteRequest().getActionsList())
                    .extracting(Action::getPosition)
                    .containsExactly(b, c));
  }

  @Test
  void aBacklogIsSplitIntoBatchesOfBoundedSize() {
    Coordinator w = new Coordinator(100, 7, 3, new Coordinator.Config(5, 50, 100, 10, 10));
    w.elect();
    for (int r = 0; r < 2; r++) {
      w.handle(
          Envelope.newBuilder()
              .setFrom(r)
              .setTo(100)
              .setPromiseResponse(
                  PromiseResponse.newBuilder()
                      .setBallot(w.ballot())
                      .setOk(true)
                      .setPromised(w.ballot())
                      .setBegin(1))
              .build());
    }
    w.append(ByteString.copyFromUtf8("12345"));
    w.append(ByteString.copyFromUtf8("12345"));
    w.append(ByteString.copyFromUtf8("123456789012")); // larger than a batch: goes alone
    w.append(ByteString.copyFromUtf8("1"));
    List<Integer> sizes =
        w.flush().messages().stream()
            .filter(m -> m.getTo() == 0)
            .map(m -> m.getWriteRequest().getActionsCount())
            .toList();
    assertThat(sizes).containsExactly(2, 1, 1);
  }

  @Test
  void aRefusalWithAHigherPromiseLosesTheElectionAndTheNextOneGoesAboveIt() {
    writer.elect();
    Ballot higher = Ballots.of(writer.ballot().getRound() + 4, 9);
    Effects lost =
        writer.handle(
            Envelope.newBuilder()
                .setFrom(0)
                .setTo(100)
                .setPromiseResponse(
                    PromiseResponse.newBuilder()
                        .setBallot(writer.ballot())
                        .setOk(false)
                        .setPromised(higher))
                .build());
    assertThat(lost.events())
        .containsExactly(new Event.ElectionFailed("a replica promised a higher ballot", higher));
    assertThat(writer.status()).isEqualTo(Coordinator.Status.IDLE);

    assertThat(writer.elect().messages()).as("a promise request to every replica").hasSize(3);
    assertThat(writer.ballot().getRound()).isEqualTo(higher.getRound() + 1);
  }

  @Test
  void anElectionWithoutAQuorumInTimeIsLost() {
    writer.elect();
    promised(0, 0, 0);
    List<Event> events = new ArrayList<>();
    for (int t = 0; t <= 50 && writer.status() == Coordinator.Status.ELECTING; t++) {
      events.addAll(writer.tick().events());
    }
    assertThat(events)
        .containsExactly(
            new Event.ElectionFailed(
                "no quorum of voting replicas answered in time", Ballots.NONE));
    assertThat(writer.status()).isEqualTo(Coordinator.Status.IDLE);
  }

  @Test
  void unacknowledgedWritesAreResentInBatchesOfBoundedSizeOnlyToReplicasThatMissedThem() {
    Coordinator w = new Coordinator(100, 7, 3, new Coordinator.Config(5, 50, 100, 10, 10));
    w.elect();
    for (int r = 0; r < 2; r++) {
      w.handle(
          Envelope.newBuilder()
              .setFrom(r)
              .setTo(100)
              .setPromiseResponse(
                  PromiseResponse.newBuilder()
                      .setBallot(w.ballot())
                      .setOk(true)
                      .setPromised(w.ballot())
                      .setBegin(1))
              .build());
    }
    long a = w.append(ByteString.copyFromUtf8("123456"));
    long b = w.append(ByteString.copyFromUtf8("123456"));
    w.flush();
    w.handle(
        Envelope.newBuilder()
            .setFrom(0)
            .setTo(100)
            .setWriteResponse(
                WriteResponse.newBuilder()
                    .setBallot(w.ballot())
                    .setOk(true)
                    .addPositions(a)
                    .addPositions(b))
            .build());
    List<Envelope> resent = new ArrayList<>();
    for (int t = 0; t < 5; t++) {
      resent.addAll(w.tick().messages().stream().filter(Envelope::hasWriteRequest).toList());
    }
    assertThat(resent).extracting(Envelope::getTo).containsOnly(1L, 2L);
    assertThat(resent)
        .as("6 + 6 bytes exceed a 10-byte batch: one write each, to each of the two")
        .hasSize(4)
        .allSatisfy(m -> assertThat(m.getWriteRequest().getActionsCount()).isEqualTo(1));
  }

  @Test
  void appendBeforeElectionIsRefused() {
    assertThatThrownBy(() -> writer.append(ByteString.EMPTY)).hasMessageContaining("not elected");
  }
}
