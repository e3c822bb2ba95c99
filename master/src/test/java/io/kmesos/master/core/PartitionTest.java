package io.kmesos.master.core;

import static io.kmesos.master.core.Harness.PRINCIPAL;
import static io.kmesos.master.core.Harness.commands;
import static io.kmesos.master.core.Harness.info;
import static io.kmesos.master.core.Harness.kinds;
import static io.kmesos.master.core.Harness.offers;
import static io.kmesos.master.core.Harness.r;
import static io.kmesos.master.core.Harness.task;
import static io.kmesos.master.core.Harness.updates;
import static org.assertj.core.api.Assertions.assertThat;

import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.resources.ResourceProtos;
import io.kmesos.api.scheduler.v1.Event.KindCase;
import io.kmesos.api.scheduler.v1.ReconcileRequest;
import io.kmesos.api.scheduler.v1.TeardownRequest;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.api.v1.Task;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.master.core.Harness.Fw;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Partitions and failover: agents marked unreachable (and back), agents declared gone, the agents
 * expected after a failover, and offers held until enough of them are back.
 */
class PartitionTest {
  final Harness h = new Harness();

  /** f (not partition-aware) runs f-run on ag1; g (partition-aware) runs g-run on ag2. */
  Fw[] twoFrameworksWithRunningTasks() {
    Fw f = h.subscribe(info("f", "web"));
    Fw g = h.subscribe(info("g", "web").addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE));
    h.agent("ag1", "cpus:8;mem:1024");
    h.agent("ag2", "cpus:8;mem:1024");
    Effects tick = h.tick();
    Offer fo = offers(tick, f.id()).get(0);
    Offer go = offers(tick, g.id()).get(0);
    assertThat(fo.getAgentId()).isEqualTo("ag1");
    assertThat(go.getAgentId()).isEqualTo("ag2");
    h.accept(f, fo, task("f-run", "ag1", "cpus:1;mem:64"));
    h.accept(g, go, task("g-run", "ag2", "cpus:1;mem:64"));
    h.statusUpdate(h.agentStatus(f.id(), "ag1", "f-run", TaskState.TASK_RUNNING));
    h.statusUpdate(h.agentStatus(g.id(), "ag2", "g-run", TaskState.TASK_RUNNING));
    return new Fw[] {f, g};
  }

  Task listed(String taskId, TaskState state) {
    return h.core.state().getTasksList().stream()
        .filter(t -> t.getInfo().getTaskId().equals(taskId))
        .findFirst()
        .orElseThrow()
        .toBuilder()
        .setState(state)
        .build();
  }

  /** The offer of the agent, whichever framework got it. */
  static Offer offeredOn(Effects e, String agentId) {
    return e.events().stream()
        .filter(fe -> fe.event().hasOffers())
        .flatMap(fe -> fe.event().getOffers().getOffersList().stream())
        .filter(o -> o.getAgentId().equals(agentId))
        .findFirst()
        .orElseThrow();
  }

  Effects reconcileOn(Fw fw, String agentId, String taskId) {
    return h.core.reconcile(
        ReconcileRequest.newBuilder()
            .setFrameworkId(fw.id())
            .setStreamId(fw.stream())
            .addTasks(ReconcileRequest.Task.newBuilder().setTaskId(taskId).setAgentId(agentId))
            .build(),
        PRINCIPAL,
        h.now);
  }

  @Test
  void anUnreachableAgentsTasksAreUnreachableOrLostAndItsResourcesLeaveTheOffers() {
    Fw[] fg = twoFrameworksWithRunningTasks();
    Fw f = fg[0];
    Fw g = fg[1];
    Offer outstanding = offers(h.tick(), f.id()).get(0); // what is left of ag1 or ag2
    h.core.agentDisconnected("ag1", h.now);
    h.core.agentDisconnected("ag2", h.now);
    h.advanceSeconds(75);

    Effects e1 = h.core.agentUnreachable("ag1", h.now);
    TaskStatus lost = updates(e1, f.id()).get(0);
    assertThat(lost.getTaskId()).isEqualTo("f-run");
    assertThat(lost.getState()).isEqualTo(TaskState.TASK_LOST); // f is not partition-aware
    assertThat(lost.getReason()).isEqualTo(TaskStatus.Reason.REASON_AGENT_REMOVED);
    assertThat(lost.getSource()).isEqualTo(TaskStatus.Source.SOURCE_MASTER);
    assertThat(lost.getMessage()).isEqualTo("Agent 'ag1' is unreachable");
    assertThat(kinds(e1, f.id())).containsExactly(KindCase.UPDATE, KindCase.FAILURE);
    assertThat(kinds(e1, g.id())).containsExactly(KindCase.FAILURE);
    assertThat(e1.eventsFor(g.id()).get(0).event().getFailure().getAgentId()).isEqualTo("ag1");

    Effects e2 = h.core.agentUnreachable("ag2", h.now);
    TaskStatus unreachable = updates(e2, g.id()).get(0);
    assertThat(unreachable.getTaskId()).isEqualTo("g-run");
    assertThat(unreachable.getState()).isEqualTo(TaskState.TASK_UNREACHABLE);
    assertThat(unreachable.getReason()).isEqualTo(TaskStatus.Reason.REASON_AGENT_REMOVED);

    // No agent is left: nothing is offered, the old offer is gone, the operator sees no agent.
    assertThat(h.tick().events()).noneMatch(fe -> fe.event().hasOffers());
    assertThat(h.accept(f, outstanding).refused()).isTrue();
    assertThat(h.core.state().getAgentsList()).isEmpty();
    // The tasks are still listed, as unreachable, and reconciliation says so.
    assertThat(h.core.state().getTasksList())
        .extracting(Task::getState)
        .containsOnly(TaskState.TASK_UNREACHABLE);
    assertThat(updates(h.reconcile(f, "f-run"), f.id()).get(0).getState())
        .isEqualTo(TaskState.TASK_LOST);
    assertThat(updates(h.reconcile(g, "g-run"), g.id()).get(0).getState())
        .isEqualTo(TaskState.TASK_UNREACHABLE);
    assertThat(updates(reconcileOn(g, "ag2", "never-heard-of"), g.id()).get(0).getState())
        .isEqualTo(TaskState.TASK_UNREACHABLE);
  }

  @Test
  void anUnreachableAgentThatReregistersGetsItsTasksBackAndAFrameworkMayKillThem() {
    Fw[] fg = twoFrameworksWithRunningTasks();
    Fw f = fg[0];
    Fw g = fg[1];
    Task fRun = listed("f-run", TaskState.TASK_RUNNING);
    Task gRun = listed("g-run", TaskState.TASK_RUNNING);
    h.core.agentDisconnected("ag1", h.now);
    h.core.agentDisconnected("ag2", h.now);
    h.core.agentUnreachable("ag1", h.now);
    h.core.agentUnreachable("ag2", h.now);
    h.advanceSeconds(30);

    Effects back =
        h.core.agentReregistered(
            "ag2", "ag2.example.com", r("cpus:8;mem:1024"), List.of(gRun), List.of(), h.now);
    assertThat(commands(back, "ag2"))
        .extracting(MasterMessage::getKindCase)
        .containsExactly(MasterMessage.KindCase.REREGISTERED);
    // As in Mesos, the master sends no update of its own: reconciliation shows it RUNNING.
    assertThat(updates(back, g.id())).isEmpty();
    TaskStatus running = updates(h.reconcile(g, "g-run"), g.id()).get(0);
    assertThat(running.getState()).isEqualTo(TaskState.TASK_RUNNING);
    assertThat(running.getAgentId()).isEqualTo("ag2");
    // Its resources are charged again: ag2 offers the rest.
    Offer rest = offeredOn(h.tick(), "ag2");
    assertThat(ResourceProtos.read(rest.getResourcesList())).isEqualTo(r("cpus:7;mem:960"));
    assertThat(h.core.state().getAgentsList()).extracting(a -> a.getId()).containsExactly("ag2");

    // f was told TASK_LOST; its task comes back with ag1, and f may kill that copy.
    h.core.agentReregistered(
        "ag1", "ag1.example.com", r("cpus:8;mem:1024"), List.of(fRun), List.of(), h.now);
    assertThat(updates(h.reconcile(f, "f-run"), f.id()).get(0).getState())
        .isEqualTo(TaskState.TASK_RUNNING);
    Effects kill = h.kill(f, "f-run");
    assertThat(commands(kill, "ag1"))
        .singleElement()
        .satisfies(m -> assertThat(m.getKillTask().getTaskId()).isEqualTo("f-run"));
    Effects killed = h.statusUpdate(h.agentStatus(f.id(), "ag1", "f-run", TaskState.TASK_KILLED));
    assertThat(updates(killed, f.id()))
        .extracting(TaskStatus::getState)
        .containsExactly(TaskState.TASK_KILLED);
  }

  @Test
  void aTaskAnUnreachableAgentDoesNotListWhenItComesBackIsGone() {
    Fw g = twoFrameworksWithRunningTasks()[1];
    h.core.agentDisconnected("ag2", h.now);
    h.core.agentUnreachable("ag2", h.now);
    Effects back =
        h.core.agentReregistered(
            "ag2", "ag2.example.com", r("cpus:8;mem:1024"), List.of(), List.of(), h.now);
    TaskStatus gone = updates(back, g.id()).get(0);
    assertThat(gone.getTaskId()).isEqualTo("g-run");
    assertThat(gone.getState()).isEqualTo(TaskState.TASK_GONE);
    // Nothing was charged for it: the whole agent is offered.
    Offer all = offeredOn(h.tick(), "ag2");
    assertThat(ResourceProtos.read(all.getResourcesList())).isEqualTo(r("cpus:8;mem:1024"));
  }

  @Test
  void aFrameworkTornDownWhileItsAgentIsUnreachableGivesNothingBackTwice() {
    Fw[] fg = twoFrameworksWithRunningTasks();
    Fw g = fg[1];
    h.core.agentDisconnected("ag2", h.now);
    h.core.agentUnreachable("ag2", h.now);
    Effects e =
        h.core.teardown(
            TeardownRequest.newBuilder().setFrameworkId(g.id()).setStreamId(g.stream()).build(),
            PRINCIPAL,
            h.now);
    assertThat(e.refused()).isFalse();
    assertThat(h.core.state().getTasksList())
        .extracting(t -> t.getInfo().getTaskId())
        .containsExactly("f-run");
  }

  @Test
  void anAgentDeclaredGoneWhileUnreachableEndsItsTasksGoneByOperator() {
    Fw[] fg = twoFrameworksWithRunningTasks();
    Fw f = fg[0];
    Fw g = fg[1];
    h.core.agentDisconnected("ag1", h.now);
    h.core.agentDisconnected("ag2", h.now);
    h.core.agentUnreachable("ag1", h.now);
    h.core.agentUnreachable("ag2", h.now);
    Effects e = h.core.agentRemoved("ag2", AgentRemoval.GONE_BY_OPERATOR, h.now);
    TaskStatus gone = updates(e, g.id()).get(0);
    assertThat(gone.getState()).isEqualTo(TaskState.TASK_GONE_BY_OPERATOR);
    assertThat(gone.getReason()).isEqualTo(TaskStatus.Reason.REASON_AGENT_REMOVED_BY_OPERATOR);
    Effects lost = h.core.agentRemoved("ag1", AgentRemoval.GONE_BY_OPERATOR, h.now);
    assertThat(updates(lost, f.id()).get(0).getState()).isEqualTo(TaskState.TASK_LOST);
    assertThat(h.core.state().getTasksList()).isEmpty();
    assertThat(updates(reconcileOn(g, "ag2", "g-run"), g.id()).get(0).getState())
        .isEqualTo(TaskState.TASK_GONE_BY_OPERATOR);
  }

  @Test
  void aConnectedAgentDeclaredGoneEndsItsTasksGoneByOperator() {
    Fw g = twoFrameworksWithRunningTasks()[1];
    Effects e = h.core.agentRemoved("ag2", AgentRemoval.GONE_BY_OPERATOR, h.now);
    assertThat(updates(e, g.id()))
        .extracting(TaskStatus::getTaskId, TaskStatus::getState)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("g-run", TaskState.TASK_GONE_BY_OPERATOR));
    assertThat(h.core.state().getAgentsList()).extracting(a -> a.getId()).containsExactly("ag1");
  }

  // ---- after a failover ----

  @Test
  void afterAFailoverNoOffersUntilEnoughAgentsAreBack() {
    h.core.recoverAgents(List.of("ag1", "ag2", "ag3", "ag4", "ag5"), h.now);
    Fw f = h.subscribe(info("f", "web"));
    for (String id : List.of("ag1", "ag2", "ag3")) {
      h.core.agentReregistered(
          id, id + ".example.com", r("cpus:1;mem:64"), List.of(), List.of(), h.now);
      assertThat(offers(h.tick(), f.id())).isEmpty(); // 3 of 5 < 80 %
    }
    h.core.agentReregistered(
        "ag4", "ag4.example.com", r("cpus:1;mem:64"), List.of(), List.of(), h.now);
    assertThat(offers(h.tick(), f.id()))
        .extracting(Offer::getAgentId)
        .containsExactlyInAnyOrder("ag1", "ag2", "ag3", "ag4");
  }

  @Test
  void afterAFailoverOffersWaitAtMostTheHoldOff() {
    Harness held =
        new Harness(
            MasterConfig.defaults(Harness.MASTER)
                .withAllocationHoldOff(0.8, Duration.ofMinutes(2)));
    held.core.recoverAgents(List.of("ag1", "ag2", "ag3"), held.now);
    Fw f = held.subscribe(info("f", "web"));
    held.agent("ag1", "cpus:1;mem:64");
    held.advance(Duration.ofSeconds(119));
    assertThat(offers(held.tick(), f.id())).isEmpty();
    held.advance(Duration.ofSeconds(1));
    assertThat(offers(held.tick(), f.id())).extracting(Offer::getAgentId).containsExactly("ag1");
  }

  @Test
  void aNewClusterOrAZeroHoldOffMakesOffersAtOnce() {
    h.core.recoverAgents(List.of(), h.now);
    Fw f = h.subscribe(info("f", "web"));
    h.agent("ag1", "cpus:1;mem:64");
    assertThat(offers(h.tick(), f.id())).hasSize(1);

    Harness zero =
        new Harness(
            MasterConfig.defaults(Harness.MASTER).withAllocationHoldOff(0.8, Duration.ZERO));
    zero.core.recoverAgents(List.of("ag1", "ag2"), zero.now);
    Fw g = zero.subscribe(info("g", "web"));
    zero.agent("ag1", "cpus:1;mem:64");
    assertThat(offers(zero.tick(), g.id())).hasSize(1);
  }

  @Test
  void afterAFailoverATaskOnAnAgentNotYetBackIsNotAnsweredAndThenUnreachable() {
    h.core.recoverAgents(List.of("ag1"), h.now);
    Fw g = h.subscribe(info("g", "web").addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE));
    // ag1 may still report the task: no answer yet (Mesos answers nothing while it recovers).
    assertThat(updates(reconcileOn(g, "ag1", "t1"), g.id())).isEmpty();
    // The re-register timeout passed: ag1 is unreachable, so is the task as far as anyone knows.
    Effects e = h.core.agentUnreachable("ag1", h.now);
    assertThat(e.events()).isEmpty(); // the master knew no task of it
    assertThat(updates(reconcileOn(g, "ag1", "t1"), g.id()).get(0).getState())
        .isEqualTo(TaskState.TASK_UNREACHABLE);
    assertThat(updates(reconcileOn(g, "ag9", "t1"), g.id()).get(0).getState())
        .isEqualTo(TaskState.TASK_UNKNOWN);
  }

  @Test
  void afterAFailoverAnAgentThatReregistersBringsItsTasksAndFrameworks() {
    h.core.recoverAgents(List.of("ag1"), h.now);
    FrameworkInfo gInfo =
        info("g", "web")
            .setId("old-master-0000")
            .setPrincipal(PRINCIPAL)
            .addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE)
            .build();
    Task t =
        Task.newBuilder()
            .setInfo(task("t1", "ag1", "cpus:1;mem:64"))
            .setFrameworkId(gInfo.getId())
            .setState(TaskState.TASK_RUNNING)
            .build();
    h.core.agentReregistered(
        "ag1", "ag1.example.com", r("cpus:2;mem:128"), List.of(t), List.of(gInfo), h.now);
    assertThat(h.core.state().getTasksList())
        .singleElement()
        .satisfies(
            task -> {
              assertThat(task.getInfo().getTaskId()).isEqualTo("t1");
              assertThat(task.getState()).isEqualTo(TaskState.TASK_RUNNING);
            });
    // The framework subscribes again under its ID and reconciles: RUNNING, once.
    Fw g = h.subscribe(gInfo.toBuilder());
    assertThat(updates(h.reconcile(g), g.id()))
        .extracting(TaskStatus::getTaskId, TaskStatus::getState)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("t1", TaskState.TASK_RUNNING));
  }
}
