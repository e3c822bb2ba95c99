package io.kmesos.registry;

import static io.kmesos.registry.OperationsTest.admit;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import io.kmesos.api.registry.v1.AdmitAgent;
import io.kmesos.api.registry.v1.AgentState;
import io.kmesos.api.registry.v1.MasterInfo;
import io.kmesos.api.registry.v1.Operation;
import io.kmesos.api.registry.v1.RemoveQuota;
import io.kmesos.replica.state.StateException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The registrar's batching, with a storage whose stores the test completes by hand (the log itself
 * is exercised by {@link RegistrarIT}): what arrives during a store goes out together in the next
 * one, a refused operation fails alone, and a failed store fails its batch and everything after.
 */
class RegistrarTest {
  /** One store call: what it was asked to write, and the future the test completes. */
  record Store(Transaction changes, List<Any> causes, long version, CompletableFuture<Void> done) {}

  final List<Store> stores = new ArrayList<>();
  Registrar registrar;

  final class HandDriven implements Storage {
    @Override
    public RegistryContents recover() {
      return RegistryContents.of(List.of(), 0);
    }

    @Override
    public synchronized CompletableFuture<Void> store(
        RegistryContents before, Transaction changes, List<Any> causes, long version) {
      Store s = new Store(changes, causes, version, new CompletableFuture<>());
      stores.add(s);
      if (version == 1) {
        s.done().complete(null); // the master's own record at start
      }
      return s.done();
    }

    @Override
    public long appendedBytes() {
      return 0;
    }

    @Override
    public String recoveredSummary() {
      return "nothing";
    }

    @Override
    public long recoveryMillis() {
      return 0;
    }

    @Override
    public void close() {}
  }

  @BeforeEach
  void start() throws Exception {
    registrar =
        Registrar.start(
            new HandDriven(),
            MasterInfo.newBuilder().setId("master-1").build(),
            Duration.ofSeconds(5));
    assertThat(stores).hasSize(1);
  }

  @Test
  void frameworksAreReadAsCommitted() throws Exception {
    CompletableFuture<Boolean> added =
        registrar.apply(FrameworkOperationsTest.add(FrameworkOperationsTest.framework("f2")));
    registrar.apply(FrameworkOperationsTest.add(FrameworkOperationsTest.framework("f1")));
    assertThat(registrar.frameworks()).as("nothing before its store commits").isEmpty();
    stores.get(1).done().complete(null);
    assertThat(added.get(5, TimeUnit.SECONDS)).isTrue();
    stores.get(2).done().complete(null);
    assertThat(registrar.frameworks())
        .containsExactly(
            FrameworkOperationsTest.framework("f1"), FrameworkOperationsTest.framework("f2"));
  }

  @Test
  void operationsArrivingDuringAStoreShareTheNextOneAndARefusalFailsAlone() throws Exception {
    CompletableFuture<Boolean> first = registrar.apply(admit("a1"));
    assertThat(stores).as("the first operation is stored at once").hasSize(2);

    // While it is in flight: two admissions, one of the same ID (refused), and a no-op removal.
    CompletableFuture<Boolean> second = registrar.apply(admit("a2"));
    CompletableFuture<Boolean> again = registrar.apply(admit("a1"));
    CompletableFuture<Boolean> third = registrar.apply(admit("a3"));
    CompletableFuture<Boolean> noQuota =
        registrar.apply(
            Operation.newBuilder()
                .setRemoveQuota(RemoveQuota.newBuilder().setRole("nobody"))
                .build());
    assertThat(stores).as("nothing more is stored while a store is in flight").hasSize(2);
    assertThat(first).isNotDone();

    stores.get(1).done().complete(null);
    assertThat(first.get(5, TimeUnit.SECONDS)).isTrue();
    assertThat(stores).as("the four that waited go out as one store").hasSize(3);
    Store batch = stores.get(2);
    assertThat(batch.version()).isEqualTo(3);
    assertThat(batch.changes().puts().keySet())
        .containsExactlyInAnyOrder(Names.agent("a2"), Names.agent("a3"));
    assertThat(batch.causes()).hasSize(2);
    assertThat(List.of(second, again, third, noQuota))
        .as("every answer waits for the batch's store")
        .noneMatch(CompletableFuture::isDone);
    batch.done().complete(null);
    assertThatThrownBy(again::get)
        .cause()
        .isInstanceOf(OperationRefusedException.class)
        .hasMessageContaining("agent a1 is already known");
    assertThatThrownBy(noQuota::get)
        .cause()
        .isInstanceOf(OperationRefusedException.class)
        .hasMessageContaining("remove_quota.role: role 'nobody' has no quota");
    assertThat(second.get(5, TimeUnit.SECONDS)).isTrue();
    assertThat(third.get(5, TimeUnit.SECONDS)).isTrue();
    assertThat(registrar.registry().getAgentsList())
        .extracting(a -> a.getInfo().getId())
        .containsExactlyInAnyOrder("a1", "a2", "a3");
    assertThat(registrar.registry().getAgentsList())
        .allMatch(a -> a.getState() == AgentState.ADMITTED);
  }

  @Test
  void stopAcceptingRefusesNewAndQueuedOperationsAndDrainsOnceTheStoreInFlightEnds()
      throws Exception {
    CompletableFuture<Boolean> inFlight = registrar.apply(admit("a1"));
    CompletableFuture<Boolean> queued = registrar.apply(admit("a2"));
    assertThat(stores).hasSize(2);

    CompletableFuture<Void> drained = registrar.stopAccepting("the master is stopping");
    assertThat(drained).as("a store is in flight").isNotDone();
    assertThatThrownBy(queued::get)
        .as("queued but never stored: refused, not acknowledged")
        .cause()
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("the master is stopping");
    assertThatThrownBy(() -> registrar.apply(admit("a3")).get())
        .cause()
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("the master is stopping");

    stores.get(1).done().complete(null);
    assertThat(inFlight.get(5, TimeUnit.SECONDS)).as("the store in flight goes on").isTrue();
    drained.get(5, TimeUnit.SECONDS);
    assertThat(stores).as("nothing stored after it").hasSize(2);
    assertThat(registrar.failure()).as("refusing is no failure of the registrar").isNull();
    assertThat(registrar.stopAccepting("again")).as("idle: drained at once").isDone();
  }

  @Test
  void stopAcceptingWhileIdleIsDrainedAtOnceAndAFailedStoreInFlightDrainsToo() throws Exception {
    CompletableFuture<Boolean> inFlight = registrar.apply(admit("a1"));
    CompletableFuture<Void> drained = registrar.stopAccepting("stopping");
    assertThat(drained).isNotDone();
    stores.get(1).done().completeExceptionally(new IllegalStateException("fenced"));
    drained.get(5, TimeUnit.SECONDS);
    assertThatThrownBy(inFlight::get).cause().hasMessage("fenced");
  }

  @Test
  void itsMetricsFollowTheQueueTheStoresAndTheRegistrysSize() throws Exception {
    var metrics = new SimpleMeterRegistry();
    stores.clear();
    Registrar measured =
        Registrar.start(
            new HandDriven(),
            MasterInfo.newBuilder().setId("master-2").build(),
            Duration.ofSeconds(5),
            metrics);
    assertThat(metrics.get("kmesos.registrar.state.fetch").timer().count())
        .as("one recovery")
        .isEqualTo(1);
    assertThat(metrics.get("kmesos.registrar.state.store").timer().count())
        .as("the master's own record")
        .isEqualTo(1);
    double masterOnly = metrics.get("kmesos.registrar.registry.size").gauge().value();
    assertThat(masterOnly).isEqualTo(measured.registry().getMaster().getSerializedSize());

    CompletableFuture<Boolean> first = measured.apply(admit("a1"));
    measured.apply(admit("a2"));
    measured.apply(admit("a3"));
    assertThat(metrics.get("kmesos.registrar.queued.operations").gauge().value())
        .as("two wait while the first is stored")
        .isEqualTo(2);
    stores.get(1).done().complete(null);
    first.get(5, TimeUnit.SECONDS);
    assertThat(metrics.get("kmesos.registrar.queued.operations").gauge().value())
        .as("both went out")
        .isZero();
    assertThat(metrics.get("kmesos.registrar.state.store").timer().count()).isEqualTo(2);
    stores.get(2).done().complete(null);
    assertThat(metrics.get("kmesos.registrar.state.store").timer().count()).isEqualTo(3);
    long agents =
        measured.registry().getAgentsList().stream().mapToLong(a -> a.getSerializedSize()).sum();
    assertThat(metrics.get("kmesos.registrar.registry.size").gauge().value())
        .isEqualTo(masterOnly + agents);

    measured.close();
    assertThat(metrics.find("kmesos.registrar.queued.operations").gauge())
        .as("a closed registrar's gauges go")
        .isNull();
  }

  @Test
  void aBacklogLargerThanALogEntryIsStoredInSeveralBatches() throws Exception {
    CompletableFuture<Boolean> first = registrar.apply(admit("a0"));
    // Forty admissions of about 1 MiB each arrive during that store: far more than one log entry
    // holds.
    List<CompletableFuture<Boolean>> backlog = new ArrayList<>();
    String big = "x".repeat(1 << 20);
    for (int i = 1; i <= 40; i++) {
      backlog.add(
          registrar.apply(
              Operation.newBuilder()
                  .setAdmitAgent(
                      AdmitAgent.newBuilder()
                          .setInfo(
                              OperationsTest.agent("a" + i).toBuilder().putAttributes("blob", big)))
                  .build()));
    }
    int stored = 0;
    for (int i = 1; stored < 40; i++) {
      assertThat(stores).as("store %d", i + 1).hasSizeGreaterThan(i);
      Store s = stores.get(i);
      int ops = s.causes().size();
      long bytes = s.causes().stream().mapToLong(c -> c.getValue().size()).sum();
      assertThat(bytes)
          .as("operation bytes in one store")
          .isLessThanOrEqualTo(Registrar.MAX_BATCH_OPERATION_BYTES);
      stored += i == 1 ? 0 : ops;
      s.done().complete(null);
    }
    assertThat(first.get(5, TimeUnit.SECONDS)).isTrue();
    for (CompletableFuture<Boolean> f : backlog) {
      assertThat(f.get(5, TimeUnit.SECONDS)).isTrue();
    }
    assertThat(stores.size()).as("the backlog took several stores").isGreaterThan(3);
    assertThat(registrar.registry().getAgentsCount()).isEqualTo(41);

    // One operation too large for any log entry is refused alone, at once; the registrar goes on.
    CompletableFuture<Boolean> huge =
        registrar.apply(
            Operation.newBuilder()
                .setAdmitAgent(
                    AdmitAgent.newBuilder()
                        .setInfo(
                            OperationsTest.agent("huge").toBuilder()
                                .putAttributes(
                                    "blob", "x".repeat(Registrar.MAX_BATCH_OPERATION_BYTES))))
                .build());
    assertThatThrownBy(huge::get)
        .cause()
        .isInstanceOf(OperationRefusedException.class)
        .hasMessageContaining("one operation may have at most");
    assertThat(registrar.failure()).isNull();
  }

  @Test
  void aFailedStoreFailsItsBatchAndEverythingAfterButKeepsWhatWasCommitted() throws Exception {
    registrar.apply(admit("kept"));
    stores.get(1).done().complete(null);
    CompletableFuture<Boolean> lost = registrar.apply(admit("lost"));
    CompletableFuture<Boolean> waiting = registrar.apply(admit("waiting"));
    stores
        .get(2)
        .done()
        .completeExceptionally(new StateException("superseded: another writer was elected"));

    for (CompletableFuture<Boolean> f : List.of(lost, waiting, registrar.apply(admit("later")))) {
      assertThatThrownBy(() -> f.get(5, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .hasMessageContaining("superseded");
    }
    assertThat(registrar.registry().getAgentsList())
        .extracting(a -> a.getInfo().getId())
        .containsExactly("kept");
  }
}
