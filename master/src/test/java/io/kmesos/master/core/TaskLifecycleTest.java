package io.kmesos.master.core;

import static io.kmesos.master.core.Harness.PRINCIPAL;
import static io.kmesos.master.core.Harness.commands;
import static io.kmesos.master.core.Harness.info;
import static io.kmesos.master.core.Harness.offers;
import static io.kmesos.master.core.Harness.r;
import static io.kmesos.master.core.Harness.task;
import static io.kmesos.master.core.Harness.updates;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.Durations;
import io.kmesos.api.agent.v1.Acknowledgement;
import io.kmesos.api.agent.v1.KillTask;
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.agent.v1.StatusUpdate;
import io.kmesos.api.resources.ResourceProtos;
import io.kmesos.api.scheduler.v1.AcknowledgeRequest;
import io.kmesos.api.scheduler.v1.KillRequest;
import io.kmesos.api.scheduler.v1.ReconcileRequest;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.master.core.Harness.Fw;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Status updates, acknowledgements, kills and reconciliation. */
class TaskLifecycleTest {
  final Harness h = new Harness();

  /** f with tasks t1 (cpus:1) and t2 (cpus:2) launched on ag1 (cpus:4). */
  Fw launched(FrameworkInfo.Capability... capabilities) {
    Fw f = h.subscribe(info("f", "web").addAllCapabilities(List.of(capabilities)));
    h.agent("ag1", "cpus:4;mem:1024");
    h.accept(
        f,
        offers(h.tick(), f.id()).get(0),
        task("t1", "ag1", "cpus:1;mem:128"),
        task("t2", "ag1", "cpus:2;mem:128"));
    h.advanceSeconds(5);
    return f;
  }

  @Test
  void updatesAreForwardedAsTheyCameAndRecorded() {
    Fw f = launched();
    TaskStatus running = h.agentStatus(f.id(), "ag1", "t1", TaskState.TASK_RUNNING);
    Effects e = h.statusUpdate(running);
    assertThat(updates(e, f.id())).containsExactly(running);
    assertThat(e.eventsFor(f.id()).get(0).streamId()).isEqualTo(f.stream());
    assertThat(h.core.state().getTasksList())
        .extracting(t -> t.getInfo().getTaskId() + ":" + t.getState())
        .containsExactly("t1:TASK_RUNNING", "t2:TASK_STAGING");
    assertThat(h.core.state().getTasks(0).getLatestStatus()).isEqualTo(running);
  }

  @Test
  void aTerminalStateGivesTheResourcesBackAndAnAcknowledgementGoesToTheAgent() {
    Fw f = launched();
    h.statusUpdate(h.agentStatus(f.id(), "ag1", "t1", TaskState.TASK_RUNNING));
    TaskStatus finished = h.agentStatus(f.id(), "ag1", "t1", TaskState.TASK_FINISHED);
    h.statusUpdate(finished);
    // t1's cpus:1;mem:128 are free, with what the accept left (refused for 5 s, now expired).
    assertThat(ResourceProtos.read(offers(h.tick(), f.id()).get(0).getResourcesList()))
        .isEqualTo(r("cpus:2;mem:896"));
    // The task stays known until its terminal update is acknowledged.
    assertThat(h.core.state().getTasksList()).hasSize(2);

    Effects ack = h.acknowledge(f, finished);
    assertThat(ack.refusal()).isEmpty();
    assertThat(commands(ack, "ag1"))
        .containsExactly(
            MasterMessage.newBuilder()
                .setAcknowledgement(
                    Acknowledgement.newBuilder()
                        .setFrameworkId(f.id())
                        .setTaskId("t1")
                        .setUuid(finished.getUuid()))
                .build());
    assertThat(h.core.state().getTasksList())
        .extracting(t -> t.getInfo().getTaskId())
        .containsExactly("t2");
  }

  @Test
  void aTerminalLatestStateReleasesTheResourcesBeforeTheTerminalUpdateArrives() {
    Fw f = launched();
    TaskStatus running = h.agentStatus(f.id(), "ag1", "t2", TaskState.TASK_RUNNING);
    h.core.statusUpdate(
        "ag1",
        StatusUpdate.newBuilder()
            .setFrameworkId(f.id())
            .setStatus(running)
            .setLatestState(TaskState.TASK_FAILED)
            .build(),
        h.now);
    assertThat(h.core.state().getTasks(1).getState()).isEqualTo(TaskState.TASK_FAILED);
    assertThat(ResourceProtos.read(offers(h.tick(), f.id()).get(0).getResourcesList()))
        .isEqualTo(r("cpus:3;mem:896"));
    // Acknowledging the RUNNING update does not forget the task; the FAILED one will.
    h.acknowledge(f, running);
    assertThat(h.core.state().getTasksList()).hasSize(2);
    TaskStatus failed = h.agentStatus(f.id(), "ag1", "t2", TaskState.TASK_FAILED);
    assertThat(updates(h.statusUpdate(failed), f.id())).containsExactly(failed);
    h.acknowledge(f, failed);
    assertThat(h.core.state().getTasksList()).hasSize(1);
    // Resources were given back once only: the agent's total is what is offered, no more.
    h.advanceSeconds(5);
    h.statusUpdate(h.agentStatus(f.id(), "ag1", "t1", TaskState.TASK_KILLED));
    assertThat(h.core.state().getAgents(0).getUsedResourcesList()).isEmpty();
  }

  @Test
  void anAcknowledgementWithoutUuidIsRefused() {
    Fw f = launched();
    Effects e =
        h.core.acknowledge(
            AcknowledgeRequest.newBuilder()
                .setFrameworkId(f.id())
                .setStreamId(f.stream())
                .setAgentId("ag1")
                .setTaskId("t1")
                .build(),
            PRINCIPAL,
            h.now);
    assertThat(e.refusal())
        .contains(
            new Refusal.InvalidArgument(
                "uuid is missing: only updates with a uuid are acknowledged"));
    assertThat(e.commands()).isEmpty();
  }

  @Test
  void anAcknowledgementForADisconnectedAgentIsDropped() {
    Fw f = launched();
    TaskStatus running = h.agentStatus(f.id(), "ag1", "t1", TaskState.TASK_RUNNING);
    h.statusUpdate(running);
    h.core.agentDisconnected("ag1", h.now);
    Effects e = h.acknowledge(f, running);
    assertThat(e.refusal()).isEmpty();
    assertThat(e.commands()).isEmpty();
  }

  @Test
  void aKillGoesToTheTasksAgent() {
    Fw f = launched();
    Effects e =
        h.core.kill(
            KillRequest.newBuilder()
                .setFrameworkId(f.id())
                .setStreamId(f.stream())
                .setTaskId("t2")
                .setKillGracePeriod(Durations.fromSeconds(3))
                .build(),
            PRINCIPAL,
            h.now);
    assertThat(e.events()).isEmpty();
    assertThat(commands(e, "ag1"))
        .containsExactly(
            MasterMessage.newBuilder()
                .setKillTask(
                    KillTask.newBuilder()
                        .setFrameworkId(f.id())
                        .setTaskId("t2")
                        .setKillGracePeriod(Durations.fromSeconds(3)))
                .build());
  }

  @Test
  void aKillOfAnUnknownTaskIsAnsweredLikeAReconcile() {
    Fw f = launched();
    TaskStatus lost = updates(h.kill(f, "nope"), f.id()).get(0);
    assertThat(lost.getTaskId()).isEqualTo("nope");
    assertThat(lost.getState()).isEqualTo(TaskState.TASK_LOST);
    assertThat(lost.getReason()).isEqualTo(TaskStatus.Reason.REASON_RECONCILIATION);
    assertThat(lost.getSource()).isEqualTo(TaskStatus.Source.SOURCE_MASTER);
    assertThat(lost.getMessage()).isEqualTo("Reconciliation: task is unknown to the master");

    Harness other = new Harness();
    Fw aware =
        other.subscribe(info("g", "web").addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE));
    assertThat(updates(other.kill(aware, "nope"), aware.id()).get(0).getState())
        .isEqualTo(TaskState.TASK_UNKNOWN);
  }

  @Test
  void explicitReconciliationAnswersEachTask() {
    Fw f = launched(FrameworkInfo.Capability.PARTITION_AWARE);
    h.statusUpdate(h.agentStatus(f.id(), "ag1", "t1", TaskState.TASK_RUNNING));
    Effects e = h.reconcile(f, "t2", "t9", "t1");
    assertThat(updates(e, f.id()))
        .extracting(
            TaskStatus::getTaskId,
            TaskStatus::getState,
            TaskStatus::getReason,
            TaskStatus::getSource,
            s -> s.getUuid().isEmpty())
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(
                "t2",
                TaskState.TASK_STAGING,
                TaskStatus.Reason.REASON_RECONCILIATION,
                TaskStatus.Source.SOURCE_MASTER,
                true),
            org.assertj.core.groups.Tuple.tuple(
                "t9",
                TaskState.TASK_UNKNOWN,
                TaskStatus.Reason.REASON_RECONCILIATION,
                TaskStatus.Source.SOURCE_MASTER,
                true),
            org.assertj.core.groups.Tuple.tuple(
                "t1",
                TaskState.TASK_RUNNING,
                TaskStatus.Reason.REASON_RECONCILIATION,
                TaskStatus.Source.SOURCE_MASTER,
                true));
    assertThat(updates(e, f.id()).get(0).getAgentId()).isEqualTo("ag1");
  }

  @Test
  void implicitReconciliationAnswersEveryTaskTheMasterKnows() {
    Fw f = launched();
    TaskStatus done = h.agentStatus(f.id(), "ag1", "t1", TaskState.TASK_FINISHED);
    h.statusUpdate(done);
    Effects e = h.reconcile(f);
    assertThat(updates(e, f.id()))
        .extracting(s -> s.getTaskId() + ":" + s.getState())
        .containsExactly("t1:TASK_FINISHED", "t2:TASK_STAGING");
    h.acknowledge(f, done);
    assertThat(updates(h.reconcile(f), f.id()))
        .extracting(TaskStatus::getTaskId)
        .containsExactly("t2");
  }

  @Test
  void reconcilingATaskOnAGoneAgentSaysSo() {
    Fw f = launched(FrameworkInfo.Capability.PARTITION_AWARE);
    h.core.agentRemoved("ag1", AgentRemoval.GONE_BY_OPERATOR, h.now);
    Effects e =
        h.core.reconcile(
            ReconcileRequest.newBuilder()
                .setFrameworkId(f.id())
                .setStreamId(f.stream())
                .addTasks(ReconcileRequest.Task.newBuilder().setTaskId("t1").setAgentId("ag1"))
                .build(),
            PRINCIPAL,
            h.now);
    assertThat(updates(e, f.id()))
        .extracting(TaskStatus::getState)
        .containsExactly(TaskState.TASK_GONE_BY_OPERATOR);
  }

  @Test
  void anUpdateForAnUnknownTaskIsStillForwarded() {
    Fw f = launched();
    TaskStatus stray =
        h.agentStatus(f.id(), "ag1", "stray", TaskState.TASK_FAILED).toBuilder()
            .setUuid(ByteString.copyFromUtf8("stray-uuid"))
            .build();
    assertThat(updates(h.statusUpdate(stray), f.id())).containsExactly(stray);
    assertThat(h.core.state().getTasksList()).hasSize(2);
  }
}
