package io.kmesos.master.core;

import static io.kmesos.master.core.Harness.PRINCIPAL;
import static io.kmesos.master.core.Harness.T0;
import static io.kmesos.master.core.Harness.commands;
import static io.kmesos.master.core.Harness.info;
import static io.kmesos.master.core.Harness.kinds;
import static io.kmesos.master.core.Harness.offers;
import static io.kmesos.master.core.Harness.r;
import static io.kmesos.master.core.Harness.task;
import static io.kmesos.master.core.Harness.updates;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.util.Durations;
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.registry.v1.Framework;
import io.kmesos.api.registry.v1.Operation;
import io.kmesos.api.registry.v1.RemoveFramework;
import io.kmesos.api.scheduler.v1.Event.KindCase;
import io.kmesos.api.scheduler.v1.TeardownRequest;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.MasterInfo;
import io.kmesos.api.v1.Task;
import io.kmesos.api.v1.TaskState;
import io.kmesos.master.core.Harness.Fw;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Frameworks in the registry: what the core asks the shell to store (and when nothing), and a new
 * master that recovers them: a framework that subscribes again in time keeps its ID and tasks, one
 * that does not is removed and its tasks killed, an ID the registry does not hold is refused.
 */
class FrameworkRecordsTest {
  static final MasterInfo SECOND = MasterInfo.newBuilder().setId("m2").setAddress("m:5050").build();

  /**
   * The registry's frameworks as the shell keeps them by storing each Effects' records, with the
   * preconditions of the registry's operations (an Add of an unknown ID, an Update or a Remove of a
   * known one): the core's records must always apply.
   */
  static final class Registry {
    final TreeMap<String, Framework> frameworks = new TreeMap<>();

    Effects store(Effects e) {
      for (FrameworkRecord r : e.frameworkRecords()) {
        String id = r.frameworkId();
        if (r instanceof FrameworkRecord.Add add) {
          assertThat(frameworks).as("added once").doesNotContainKey(id);
          frameworks.put(id, add.framework());
        } else if (r instanceof FrameworkRecord.Update update) {
          assertThat(frameworks).as("updated while registered").containsKey(id);
          frameworks.put(id, update.framework());
        } else {
          assertThat(frameworks).as("removed while registered").containsKey(id);
          frameworks.remove(id);
        }
      }
      return e;
    }

    List<Framework> all() {
      return new ArrayList<>(frameworks.values());
    }
  }

  final Harness h = new Harness();
  final Registry registry = new Registry();

  static FrameworkInfo.Builder web(Duration failoverTimeout) {
    return info("web", "web").setFailoverTimeout(Durations.fromMillis(failoverTimeout.toMillis()));
  }

  Fw subscribe(FrameworkInfo.Builder info) {
    Effects e = registry.store(h.subscribeRaw(info, PRINCIPAL));
    assertThat(e.refusal()).isEmpty();
    FrameworkEvent last = e.events().get(e.events().size() - 1);
    return new Fw(last.frameworkId(), last.streamId());
  }

  @Test
  void aNewFrameworkIsRecordedInTheSameEffectsThatTellItsId() {
    Effects e = h.subscribeRaw(web(Duration.ofHours(1)).setCheckpoint(true), PRINCIPAL);
    Framework expected =
        Framework.newBuilder()
            .setInfo(
                web(Duration.ofHours(1))
                    .setCheckpoint(true)
                    .setId("m1-0000")
                    .setPrincipal(PRINCIPAL))
            .setRegisteredAt(MasterStatuses.timestamp(T0))
            .build();
    assertThat(e.frameworkRecords()).containsExactly(new FrameworkRecord.Add(expected));
    assertThat(kinds(e, "m1-0000")).containsExactly(KindCase.SUBSCRIBED);
    // What the shell hands the registrar.
    assertThat(e.frameworkRecords().get(0).operation().getAddFramework().getFramework())
        .isEqualTo(expected);

    // A refused subscription records nothing.
    assertThat(h.subscribeRaw(info("bad", "a", "b"), PRINCIPAL).frameworkRecords()).isEmpty();
    // Nor does one too large for the registry.
    Effects huge =
        h.subscribeRaw(info("huge", "web").putLabels("blob", "x".repeat(70_000)), PRINCIPAL);
    assertThat(huge.refusal().get().message())
        .matches(
            "the FrameworkInfo has 700\\d\\d bytes; at most 65536 are taken \\(the registry stores it\\)");
    assertThat(huge.frameworkRecords()).isEmpty();
  }

  @Test
  void heartbeatsCallsAndAnUnchangedResubscriptionWriteNothing() {
    Fw f = subscribe(web(Duration.ofHours(1)));
    h.agent("ag1", "cpus:4;mem:1024");
    h.advanceSeconds(1);
    assertThat(h.tick().frameworkRecords()).isEmpty();
    assertThat(h.reconcile(f).frameworkRecords()).isEmpty();
    h.advanceSeconds(60);
    Effects beats = h.tick();
    assertThat(kinds(beats, f.id())).contains(KindCase.HEARTBEAT);
    assertThat(beats.frameworkRecords()).isEmpty();

    // A scheduler failover with the same info: the registry already holds it.
    Effects again = h.subscribeRaw(web(Duration.ofHours(1)).setId(f.id()), PRINCIPAL);
    assertThat(again.refusal()).isEmpty();
    assertThat(again.frameworkRecords()).isEmpty();

    // With another name and failover timeout: the new info replaces the old, registered_at stays.
    Effects renamed =
        registry.store(
            h.subscribeRaw(web(Duration.ofDays(7)).setName("web-v2").setId(f.id()), PRINCIPAL));
    assertThat(renamed.frameworkRecords())
        .singleElement()
        .isInstanceOf(FrameworkRecord.Update.class);
    Framework stored = registry.frameworks.get(f.id());
    assertThat(stored.getInfo().getName()).isEqualTo("web-v2");
    assertThat(stored.getInfo().getFailoverTimeout()).isEqualTo(Durations.fromDays(7));
    assertThat(stored.getRegisteredAt()).isEqualTo(MasterStatuses.timestamp(T0));
  }

  @Test
  void theEndOfASubscriptionIsRecordedOnceAndTheReturnClearsIt() {
    Fw f = subscribe(web(Duration.ofHours(1)));
    h.advanceSeconds(10);
    Instant endedAt = h.now;
    Effects ended = registry.store(h.core.disconnected(f.id(), f.stream(), h.now));
    assertThat(ended.frameworkRecords()).singleElement().isInstanceOf(FrameworkRecord.Update.class);
    assertThat(registry.frameworks.get(f.id()).getDisconnectedAt())
        .isEqualTo(MasterStatuses.timestamp(endedAt));
    h.advanceSeconds(600);
    assertThat(h.tick().frameworkRecords()).as("the timer runs in memory").isEmpty();

    Effects back =
        registry.store(h.subscribeRaw(web(Duration.ofHours(1)).setId(f.id()), PRINCIPAL));
    assertThat(back.frameworkRecords()).singleElement().isInstanceOf(FrameworkRecord.Update.class);
    assertThat(registry.frameworks.get(f.id()).hasDisconnectedAt()).isFalse();
  }

  @Test
  void teardownAndAnExpiredFailoverTimeoutRemoveTheRecord() {
    Fw torn = subscribe(web(Duration.ofHours(1)));
    Effects e =
        registry.store(
            h.core.teardown(
                TeardownRequest.newBuilder()
                    .setFrameworkId(torn.id())
                    .setStreamId(torn.stream())
                    .build(),
                PRINCIPAL,
                h.now));
    assertThat(e.frameworkRecords())
        .containsExactly(new FrameworkRecord.Remove(torn.id(), FrameworkRemoved.Why.TORN_DOWN));
    assertThat(e.frameworkRecords().get(0).operation())
        .isEqualTo(
            Operation.newBuilder()
                .setRemoveFramework(RemoveFramework.newBuilder().setId(torn.id()))
                .build());

    Fw expires = subscribe(web(Duration.ofSeconds(30)));
    registry.store(h.core.disconnected(expires.id(), expires.stream(), h.now));
    h.advanceSeconds(30);
    assertThat(registry.store(h.tick()).frameworkRecords())
        .containsExactly(
            new FrameworkRecord.Remove(
                expires.id(), FrameworkRemoved.Why.FAILOVER_TIMEOUT_EXPIRED));

    // Without a failover timeout it goes as its subscription ends: nothing recorded in between.
    Fw at0 = subscribe(info("batch", "batch"));
    assertThat(
            registry.store(h.core.disconnected(at0.id(), at0.stream(), h.now)).frameworkRecords())
        .containsExactly(
            new FrameworkRecord.Remove(at0.id(), FrameworkRemoved.Why.FAILOVER_TIMEOUT_EXPIRED));
    assertThat(registry.frameworks).isEmpty();
  }

  // ---- a new master ----------------------------------------------------------------------------

  /** The first master: framework "web" (failover timeout 60 s) with task t1 running on ag1. */
  Fw firstMasterWithATask() {
    Fw f = subscribe(web(Duration.ofSeconds(60)));
    h.agent("ag1", "cpus:4;mem:1024");
    h.accept(f, offers(h.tick(), f.id()).get(0), task("t1", "ag1", "cpus:1;mem:128"));
    h.statusUpdate(h.agentStatus(f.id(), "ag1", "t1", TaskState.TASK_RUNNING));
    return f;
  }

  /** The second master, at {@code now}, with the given grace, after it recovered the registry. */
  Harness secondMaster(Instant now, Duration grace) {
    Harness next =
        new Harness(MasterConfig.defaults(SECOND).withRecoveredFrameworkGrace(grace), "m2");
    next.now = now;
    registry.store(next.core.recoverFrameworks(registry.all(), now));
    return next;
  }

  /** Agent ag1 re-registers with the second master, holding t1 of the first master's framework. */
  Effects reregisterWithT1(Harness next, Fw f) {
    // The FrameworkInfo the agent got with the task, from the first master.
    FrameworkInfo held = h.core.state().getFrameworks(0).getInfo();
    Task running =
        Task.newBuilder()
            .setInfo(task("t1", "ag1", "cpus:1;mem:128"))
            .setFrameworkId(f.id())
            .setState(TaskState.TASK_RUNNING)
            .setLatestStatus(next.agentStatus(f.id(), "ag1", "t1", TaskState.TASK_RUNNING))
            .build();
    return next.core.agentReregistered(
        "ag1", "ag1.example.com", r("cpus:4;mem:1024"), List.of(running), List.of(held), next.now);
  }

  @Test
  void aFrameworkThatSubscribesToTheNewMasterInTimeKeepsItsIdAndTasks() {
    Fw f = firstMasterWithATask();
    // The first master stops with the framework subscribed; the second takes over 20 s later.
    Harness next = secondMaster(h.now.plusSeconds(20), Duration.ZERO);
    Framework record = registry.frameworks.get(f.id());
    assertThat(record.getDisconnectedAt())
        .as("its subscription ended with the first master, and the registry says so now")
        .isEqualTo(MasterStatuses.timestamp(next.now));
    var known = next.core.state().getFrameworks(0);
    assertThat(known.getInfo().getId()).isEqualTo(f.id());
    assertThat(known.getRecovered()).isTrue();
    assertThat(known.getConnected()).isFalse();

    assertThat(commands(reregisterWithT1(next, f), "ag1"))
        .extracting(MasterMessage::getKindCase)
        .containsExactly(MasterMessage.KindCase.REREGISTERED);
    next.advanceSeconds(59.999);
    Effects tick = registry.store(next.tick());
    assertThat(tick.removedFrameworks()).isEmpty();
    assertThat(tick.events()).as("no offers while it is not subscribed").isEmpty();

    Effects back =
        registry.store(next.subscribeRaw(web(Duration.ofSeconds(60)).setId(f.id()), PRINCIPAL));
    assertThat(back.refusal()).isEmpty();
    assertThat(back.events().get(0).event().getSubscribed().getFrameworkId()).isEqualTo(f.id());
    assertThat(registry.frameworks.get(f.id()).hasDisconnectedAt()).isFalse();
    Fw again = new Fw(f.id(), back.events().get(0).streamId());
    assertThat(updates(next.reconcile(again), f.id()))
        .extracting(s -> s.getTaskId() + ":" + s.getState())
        .containsExactly("t1:TASK_RUNNING");
    next.advanceSeconds(3600);
    assertThat(next.tick().removedFrameworks()).isEmpty();
    assertThat(next.core.state().getTasksList()).hasSize(1);
  }

  @Test
  void pastItsFailoverTimeoutARecoveredFrameworkIsRemovedAndItsTasksKilled() {
    Fw f = firstMasterWithATask();
    Harness next = secondMaster(h.now.plusSeconds(20), Duration.ZERO);
    reregisterWithT1(next, f);
    next.advanceSeconds(60);
    Effects tick = registry.store(next.tick());
    assertThat(tick.removedFrameworks())
        .containsExactly(
            new FrameworkRemoved(f.id(), FrameworkRemoved.Why.FAILOVER_TIMEOUT_EXPIRED));
    assertThat(tick.frameworkRecords())
        .containsExactly(
            new FrameworkRecord.Remove(f.id(), FrameworkRemoved.Why.FAILOVER_TIMEOUT_EXPIRED));
    assertThat(commands(tick, "ag1")).containsExactly(MasterState.shutdown(f.id()));
    assertThat(next.core.state().getTasksList()).isEmpty();
    assertThat(registry.frameworks).isEmpty();

    // Too late now, on this master and on any later one.
    assertThat(next.subscribeRaw(web(Duration.ofSeconds(60)).setId(f.id()), PRINCIPAL).refusal())
        .contains(
            new Refusal.FailedPrecondition(
                "framework 'm1-0000' was torn down; it cannot subscribe again"));
    Harness third = secondMaster(next.now.plusSeconds(5), Duration.ZERO);
    assertThat(third.subscribeRaw(web(Duration.ofSeconds(60)).setId(f.id()), PRINCIPAL).refusal())
        .contains(
            new Refusal.FailedPrecondition(
                "framework 'm1-0000' is not registered: it was removed (torn down, or its"
                    + " failover timeout expired) or never existed; subscribe without an ID to"
                    + " register anew"));
  }

  @Test
  void anAgentThatComesBackAfterTheRemovalIsToldToShutTheFrameworkDown() {
    Fw f = firstMasterWithATask();
    Harness next = secondMaster(h.now.plusSeconds(20), Duration.ZERO);
    next.advanceSeconds(60);
    Effects tick = registry.store(next.tick());
    assertThat(tick.removedFrameworks()).hasSize(1);
    assertThat(tick.commands()).as("no agent holds its tasks yet").isEmpty();
    assertThat(commands(reregisterWithT1(next, f), "ag1"))
        .extracting(MasterMessage::getKindCase)
        .containsExactly(
            MasterMessage.KindCase.REREGISTERED, MasterMessage.KindCase.SHUTDOWN_FRAMEWORK);
  }

  @Test
  void aFrameworkDisconnectedBeforeTheFailoverKeepsItsDeadlineButGetsTheGrace() {
    Fw f = firstMasterWithATask();
    Instant ended = h.now.plusSeconds(10);
    registry.store(h.core.disconnected(f.id(), f.stream(), ended));

    // A new master 30 s after it disconnected: the timeout still ends 60 s after it disconnected.
    Harness next = secondMaster(ended.plusSeconds(30), Duration.ofSeconds(5));
    assertThat(registry.frameworks.get(f.id()).getDisconnectedAt())
        .as("unchanged: nothing to write")
        .isEqualTo(MasterStatuses.timestamp(ended));
    next.now = ended.plusSeconds(60).minusMillis(1);
    assertThat(next.tick().removedFrameworks()).isEmpty();
    next.now = ended.plusSeconds(60);
    assertThat(next.tick().removedFrameworks()).hasSize(1);

    // A master that comes when the timeout already ran out still gives it the grace.
    Harness late =
        new Harness(
            MasterConfig.defaults(SECOND).withRecoveredFrameworkGrace(Duration.ofSeconds(5)), "m3");
    Framework disconnected =
        Framework.newBuilder()
            .setInfo(web(Duration.ofSeconds(60)).setId("m0-0001").setPrincipal(PRINCIPAL))
            .setRegisteredAt(MasterStatuses.timestamp(T0))
            .setDisconnectedAt(MasterStatuses.timestamp(T0))
            .build();
    late.now = T0.plusSeconds(100);
    assertThat(late.core.recoverFrameworks(List.of(disconnected), late.now))
        .isEqualTo(Effects.NONE);
    late.advanceSeconds(4.999);
    assertThat(late.tick().removedFrameworks()).isEmpty();
    late.advanceSeconds(0.001);
    assertThat(late.tick().removedFrameworks()).hasSize(1);
  }

  @Test
  void withoutAFailoverTimeoutAFrameworkStillSurvivesAMasterFailoverWithinTheGrace() {
    Fw f = subscribe(info("batch", "batch"));
    Harness next = secondMaster(h.now.plusSeconds(20), Duration.ofMinutes(10));
    next.advance(Duration.ofMinutes(10).minusMillis(1));
    assertThat(next.tick().removedFrameworks()).isEmpty();
    assertThat(next.subscribeRaw(info("batch", "batch").setId(f.id()), PRINCIPAL).refusal())
        .isEmpty();
  }

  @Test
  void aMasterThatRecoveredTheRegistryRefusesUnknownFrameworksAndKillsTheirTasks() {
    Harness next = secondMaster(T0, Duration.ZERO);
    FrameworkInfo.Builder unknown = web(Duration.ofSeconds(60)).setId("m0-0007");
    assertThat(next.subscribeRaw(unknown, PRINCIPAL).refusal().get().code())
        .isEqualTo(Refusal.Code.FAILED_PRECONDITION);
    // An agent still running a task of it: the framework was removed, its tasks are killed.
    Task orphan =
        Task.newBuilder()
            .setInfo(task("t9", "ag1", "cpus:1"))
            .setFrameworkId("m0-0007")
            .setState(TaskState.TASK_RUNNING)
            .build();
    Effects e =
        next.core.agentReregistered(
            "ag1",
            "ag1.example.com",
            r("cpus:4;mem:1024"),
            List.of(orphan),
            List.of(unknown.setPrincipal(PRINCIPAL).build()),
            next.now);
    assertThat(commands(e, "ag1"))
        .extracting(MasterMessage::getKindCase)
        .containsExactly(
            MasterMessage.KindCase.REREGISTERED, MasterMessage.KindCase.SHUTDOWN_FRAMEWORK);
    assertThat(commands(e, "ag1").get(1)).isEqualTo(MasterState.shutdown("m0-0007"));
    assertThat(next.core.state().getFrameworksList()).isEmpty();
    assertThat(next.core.state().getTasksList()).isEmpty();
    Effects update =
        next.statusUpdate(next.agentStatus("m0-0007", "ag1", "t9", TaskState.TASK_RUNNING));
    assertThat(commands(update, "ag1")).containsExactly(MasterState.shutdown("m0-0007"));
    // A new framework subscribes as ever.
    assertThat(next.subscribeRaw(info("new", "web"), PRINCIPAL).refusal()).isEmpty();
  }

  @Test
  void recoveryComesFirstOnceAndRefusesRecordsItCannotTake() {
    Harness next = new Harness(MasterConfig.defaults(SECOND), "m2");
    next.agent("ag1", "cpus:1");
    assertThatThrownBy(() -> next.core.recoverFrameworks(List.of(), next.now))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "the registry's frameworks are recovered before any framework or agent is known");

    Harness fresh = new Harness(MasterConfig.defaults(SECOND), "m2");
    Framework bad =
        Framework.newBuilder()
            .setInfo(info("x", "a", "b").setId("m0-0001"))
            .setRegisteredAt(MasterStatuses.timestamp(T0))
            .build();
    assertThatThrownBy(() -> fresh.core.recoverFrameworks(List.of(bad), fresh.now))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "the registry's framework 'm0-0001' cannot be recovered: a framework in 2 roles needs"
                + " the MULTI_ROLE capability (remove it with kmesos-registry apply)");
    fresh.core.recoverFrameworks(List.of(), fresh.now);
    assertThatThrownBy(() -> fresh.core.recoverFrameworks(List.of(), fresh.now))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("the registry's frameworks were already recovered");
  }

  /** A failover with frameworks subscribing, disconnecting, coming back and expiring. */
  List<Effects> failoverRun() {
    Harness first = new Harness();
    Registry reg = new Registry();
    List<Effects> all = new ArrayList<>();
    all.add(reg.store(first.subscribeRaw(web(Duration.ofSeconds(60)), PRINCIPAL)));
    all.add(reg.store(first.subscribeRaw(web(Duration.ofSeconds(30)).setName("b"), PRINCIPAL)));
    all.add(reg.store(first.subscribeRaw(info("c", "web"), PRINCIPAL)));
    all.add(
        reg.store(
            first.core.disconnected("m1-0001", "m1-S1", first.advance(Duration.ofSeconds(5)))));
    Harness next =
        new Harness(
            MasterConfig.defaults(SECOND).withRecoveredFrameworkGrace(Duration.ofSeconds(10)),
            "m2");
    next.now = first.now.plusSeconds(10);
    all.add(reg.store(next.core.recoverFrameworks(reg.all(), next.now)));
    all.add(reg.store(next.agent("ag1", "cpus:4;mem:1024")));
    all.add(reg.store(next.subscribeRaw(web(Duration.ofSeconds(60)).setId("m1-0000"), PRINCIPAL)));
    for (int i = 0; i < 80; i++) {
      next.advanceSeconds(1);
      all.add(reg.store(next.tick()));
    }
    assertThat(reg.frameworks.keySet()).containsExactly("m1-0000");
    return all;
  }

  @Test
  void theSameInputsGiveTheSameEffectsAcrossAFailover() {
    assertThat(failoverRun()).isEqualTo(failoverRun());
  }
}
