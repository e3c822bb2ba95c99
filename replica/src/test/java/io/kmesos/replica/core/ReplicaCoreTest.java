package io.kmesos.replica.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.ActionType;
import io.kmesos.api.log.v1.Ballot;
import io.kmesos.api.log.v1.Envelope;
import io.kmesos.api.log.v1.FetchRequest;
import io.kmesos.api.log.v1.FetchResponse;
import io.kmesos.api.log.v1.InitializeRequest;
import io.kmesos.api.log.v1.LearnedRequest;
import io.kmesos.api.log.v1.Metadata;
import io.kmesos.api.log.v1.PromiseRequest;
import io.kmesos.api.log.v1.PromiseResponse;
import io.kmesos.api.log.v1.ReplicaStatus;
import io.kmesos.api.log.v1.WriteRequest;
import io.kmesos.api.log.v1.WriteResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class ReplicaCoreTest {
  static final long WRITER = 100;

  /**
   * Storage that applies effects immediately (sync is not modelled here; the simulation does that).
   */
  static final class MemoryStorage implements ReplicaStorage {
    Metadata metadata;
    final TreeMap<Long, Action> actions = new TreeMap<>();

    @Override
    public Metadata metadata() {
      return metadata;
    }

    @Override
    public List<Action> range(long from, long to, int limit, long maxPayloadBytes) {
      List<Action> out = new ArrayList<>();
      PayloadBudget budget = new PayloadBudget(maxPayloadBytes);
      for (Action a :
          from > to ? List.<Action>of() : actions.subMap(from, true, to, true).values()) {
        if (out.size() == limit || !budget.tryAdd(a)) {
          break;
        }
        out.add(a);
      }
      return out;
    }

    @Override
    public long end() {
      return actions.isEmpty() ? 0 : actions.lastKey();
    }

    Effects apply(Effects e) {
      for (Effects.Persist p : e.persist()) {
        if (p.deleteAll()) {
          actions.clear();
        }
        if (p.metadata() != null) {
          metadata = p.metadata();
        }
        p.actions().forEach(a -> actions.put(a.getPosition(), a));
      }
      return e;
    }
  }

  final MemoryStorage storage = new MemoryStorage();

  /** The ticks a replica server with the default settings gives its core. */
  static final ReplicaCore.Config CONFIG = new ReplicaCore.Config(10, 50, 20, 1000, 16L << 20);

  final ReplicaCore replica = new ReplicaCore(0, 3, storage, CONFIG, 42);

  Effects send(Envelope.Builder e) {
    return storage.apply(replica.handle(e.setFrom(WRITER).setTo(0).build()));
  }

  void initialize() {
    send(
        Envelope.newBuilder()
            .setInitializeRequest(InitializeRequest.newBuilder().setClusterId("log-a")));
  }

  PromiseResponse promise(Ballot b) {
    return send(Envelope.newBuilder().setPromiseRequest(PromiseRequest.newBuilder().setBallot(b)))
        .messages()
        .get(0)
        .getPromiseResponse();
  }

  Effects write(Ballot b, long committedThrough, Action... actions) {
    return send(
        Envelope.newBuilder()
            .setWriteRequest(
                WriteRequest.newBuilder()
                    .setBallot(b)
                    .addAllActions(List.of(actions))
                    .setCommittedThrough(committedThrough)));
  }

  static Action append(long position, String payload) {
    return Action.newBuilder()
        .setPosition(position)
        .setType(ActionType.APPEND)
        .setPayload(ByteString.copyFromUtf8(payload))
        .build();
  }

  @Test
  void anEmptyReplicaNeitherPromisesNorAccepts() {
    assertThat(replica.replicaStatus()).isEqualTo(ReplicaStatus.EMPTY);
    assertThat(promise(Ballots.of(1, 1)).getOk()).isFalse();
    assertThat(
            write(Ballots.of(1, 1), 0, append(1, "a")).messages().get(0).getWriteResponse().getOk())
        .isFalse();
    assertThat(storage.actions).isEmpty();
  }

  @Test
  void aPromiseIsSyncedBeforeItIsReportedAndCoversEveryPosition() {
    initialize();
    Effects e =
        send(
            Envelope.newBuilder()
                .setPromiseRequest(PromiseRequest.newBuilder().setBallot(Ballots.of(2, 7))));
    assertThat(e.persist())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.sync()).isTrue();
              assertThat(p.metadata().getPromised()).isEqualTo(Ballots.of(2, 7));
            });
    assertThat(e.messages().get(0).getPromiseResponse().getOk()).isTrue();

    // A lower ballot is refused, naming the promise that beats it, for any position.
    PromiseResponse lower = promise(Ballots.of(1, 9));
    assertThat(lower.getOk()).isFalse();
    assertThat(lower.getPromised()).isEqualTo(Ballots.of(2, 7));
    WriteResponse refused =
        write(Ballots.of(2, 6), 0, append(500, "late")).messages().get(0).getWriteResponse();
    assertThat(refused.getOk()).isFalse();
    assertThat(refused.getPromised()).isEqualTo(Ballots.of(2, 7));
    assertThat(storage.actions).doesNotContainKey(500L);
  }

  @Test
  void acceptedWritesAreSyncedAndLearnedOnlyUnderTheirOwnBallot() {
    initialize();
    Ballot b = Ballots.of(1, 1);
    Effects e = write(b, 0, append(1, "a"), append(2, "b"));
    assertThat(e.needsSync()).isTrue();
    assertThat(e.messages().get(0).getWriteResponse().getPositionsList()).containsExactly(1L, 2L);
    assertThat(replica.status().getLearnedThrough()).isZero();

    // A later writer's "committed through 2" says nothing about values accepted under another
    // ballot.
    send(
        Envelope.newBuilder()
            .setLearnedRequest(
                LearnedRequest.newBuilder().setBallot(Ballots.of(2, 2)).setCommittedThrough(2)));
    assertThat(replica.status().getLearnedThrough()).isZero();

    send(
        Envelope.newBuilder()
            .setLearnedRequest(LearnedRequest.newBuilder().setBallot(b).setCommittedThrough(2)));
    assertThat(replica.status().getLearnedThrough()).isEqualTo(2);
    // Learning up to the learned point is one metadata write, not a rewrite of each action.
    assertThat(storage.metadata.getLearnedThrough()).isEqualTo(2);
  }

  @Test
  void aLearnedValueIsNeverReplaced() {
    initialize();
    write(Ballots.of(1, 1), 1, append(1, "chosen"));
    write(Ballots.of(3, 3), 0, append(1, "other"));
    assertThat(storage.actions.get(1L).getPayload().toStringUtf8()).isEqualTo("chosen");
    assertThat(replica.status().getLearnedThrough()).isEqualTo(1);
  }

  @Test
  void aLearnedTruncateMovesTheBeginningAndDeletesBelowIt() {
    initialize();
    Ballot b = Ballots.of(1, 1);
    Effects e =
        write(
            b,
            4,
            append(1, "a"),
            append(2, "b"),
            append(3, "c"),
            Action.newBuilder()
                .setPosition(4)
                .setType(ActionType.TRUNCATE)
                .setTruncateTo(3)
                .build());
    assertThat(replica.status().getBegin()).isEqualTo(3);
    assertThat(e.persist()).anySatisfy(p -> assertThat(p.deleteBelow()).isEqualTo(3));
    assertThat(e.events()).as("the shell logs it").containsExactly(new Event.Truncated(1, 3));
    assertThat(write(b, 4).events()).as("learned again, nothing moves").isEmpty();
  }

  @Test
  void initializingReportsTheStatusChangeOnce() {
    Effects first =
        send(
            Envelope.newBuilder()
                .setInitializeRequest(InitializeRequest.newBuilder().setClusterId("log-a")));
    assertThat(first.events())
        .containsExactly(
            new Event.StatusChanged(ReplicaStatus.EMPTY, ReplicaStatus.VOTING, "log-a", 0));
    assertThat(((Event.Transition) first.events().get(0)).describe())
        .isEqualTo("EMPTY -> VOTING: initialized as a voting member of log log-a");
    Effects again =
        send(
            Envelope.newBuilder()
                .setInitializeRequest(InitializeRequest.newBuilder().setClusterId("log-a")));
    assertThat(again.events()).isEmpty();
    assertThat(promise(Ballots.of(1, 1)).getOk()).isTrue();
  }

  @Test
  void aReplicaInitializedBesideAHalfInitializedLogStartsWithTheGivenPromise() {
    Ballot found = Ballots.of(3, 7);
    Effects e =
        send(
            Envelope.newBuilder()
                .setInitializeRequest(
                    InitializeRequest.newBuilder().setClusterId("log-a").setPromised(found)));
    assertThat(e.persist()).singleElement().matches(Effects.Persist::sync);
    assertThat(storage.metadata.getPromised()).isEqualTo(found);
    assertThat(promise(Ballots.of(2, 9)).getOk()).as("a writer below it stays fenced").isFalse();
    assertThat(
            write(Ballots.of(3, 6), 0, append(1, "old"))
                .messages()
                .get(0)
                .getWriteResponse()
                .getOk())
        .isFalse();
    assertThat(promise(found).getOk()).as("the writer holding it goes on").isTrue();
    assertThat(
            send(Envelope.newBuilder()
                    .setInitializeRequest(
                        InitializeRequest.newBuilder()
                            .setClusterId("log-a")
                            .setPromised(Ballots.of(9, 9))))
                .persist())
        .as("a voting replica's promise is not changed by a repeated initialize")
        .isEmpty();
    assertThat(replica.status().getPromised()).isEqualTo(found);
  }

  @Test
  void initializeIsIdempotentAndNeverSwitchesLogs() {
    initialize();
    initialize();
    assertThat(replica.replicaStatus()).isEqualTo(ReplicaStatus.VOTING);
    var other =
        send(Envelope.newBuilder()
                .setInitializeRequest(InitializeRequest.newBuilder().setClusterId("log-b")))
            .messages()
            .get(0)
            .getInitializeResponse();
    assertThat(other.getOk()).isFalse();
    assertThat(other.getClusterId()).isEqualTo("log-a");
  }

  @Test
  void storageOfAnotherReplicaIsRefused() {
    storage.metadata =
        Metadata.newBuilder()
            .setReplicaId(2)
            .setClusterId("log-a")
            .setStatus(ReplicaStatus.VOTING)
            .build();
    assertThatThrownBy(() -> new ReplicaCore(0, 3, storage, CONFIG, 1))
        .hasMessageContaining("belongs to replica 2 of log log-a");
  }

  @Test
  void aFetchAnswerStopsAtItsSizeLimitAndSaysHowFarItCovers() {
    MemoryStorage small = new MemoryStorage();
    ReplicaCore r = new ReplicaCore(0, 3, small, new ReplicaCore.Config(10, 50, 20, 1000, 10), 42);
    small.apply(
        r.handle(
            Envelope.newBuilder()
                .setFrom(WRITER)
                .setTo(0)
                .setInitializeRequest(InitializeRequest.newBuilder().setClusterId("log-a"))
                .build()));
    small.apply(
        r.handle(
            Envelope.newBuilder()
                .setFrom(WRITER)
                .setTo(0)
                .setWriteRequest(
                    WriteRequest.newBuilder()
                        .setBallot(Ballots.of(1, 1))
                        .addActions(append(1, "12345"))
                        .addActions(append(2, "12345"))
                        .addActions(append(3, "12345"))
                        .addActions(append(5, "12345")))
                .build()));

    FetchResponse first =
        r.handle(
                Envelope.newBuilder()
                    .setFrom(WRITER)
                    .setTo(0)
                    .setFetchRequest(FetchRequest.newBuilder().setFrom(1).setTo(9))
                    .build())
            .messages()
            .get(0)
            .getFetchResponse();
    assertThat(first.getActionsList()).extracting(Action::getPosition).containsExactly(1L, 2L);
    assertThat(first.getTo()).as("covers only what it carries").isEqualTo(2);

    FetchResponse rest =
        r.handle(
                Envelope.newBuilder()
                    .setFrom(WRITER)
                    .setTo(0)
                    .setFetchRequest(FetchRequest.newBuilder().setFrom(5).setTo(9))
                    .build())
            .messages()
            .get(0)
            .getFetchResponse();
    assertThat(rest.getActionsList()).extracting(Action::getPosition).containsExactly(5L);
    assertThat(rest.getTo()).as("nothing more is held: it covers the whole range").isEqualTo(9);
  }
}
