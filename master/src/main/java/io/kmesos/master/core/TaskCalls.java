package io.kmesos.master.core;

import io.kmesos.api.agent.v1.Acknowledgement;
import io.kmesos.api.agent.v1.KillTask;
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.scheduler.v1.AcknowledgeRequest;
import io.kmesos.api.scheduler.v1.KillRequest;
import io.kmesos.api.scheduler.v1.ReconcileRequest;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStates;
import io.kmesos.api.v1.TaskStatus;

/**
 * Kill, Acknowledge and Reconcile: a framework's calls about its tasks.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>Kill of a live task goes to its agent as kill_task (dropped if the agent is not connected:
 *       kills are not retried, the framework kills again); of a task that already ended, nothing;
 *       of a task the master does not know, the answer an explicit Reconcile of it would get.
 *   <li>Acknowledge goes to the task's agent as an acknowledgement; one of the task's terminal
 *       update also makes the master forget the task.
 *   <li>Reconcile answers with updates (SOURCE_MASTER, REASON_RECONCILIATION, no uuid): for an
 *       explicit list, one per task, TASK_UNKNOWN (or TASK_GONE_BY_OPERATOR on an agent an operator
 *       declared gone) for a task the master does not know, TASK_LOST for both without
 *       PARTITION_AWARE; for an empty list, the latest state of every task of the framework.
 * </ul>
 */
final class TaskCalls {
  private final MasterState state;

  TaskCalls(MasterState state) {
    this.state = state;
  }

  void kill(FrameworkState framework, KillRequest request, Outbox out) {
    if (request.getTaskId().isEmpty()) {
      out.refuse(new Refusal.InvalidArgument("task_id is missing"));
      return;
    }
    TaskRegistry.Entry task = state.tasks.get(framework.id, request.getTaskId());
    if (task == null) {
      reconcileUnknown(framework, request.getTaskId(), request.getAgentId(), out);
      return;
    }
    if (task.terminal()) {
      return;
    }
    KillTask.Builder kill =
        KillTask.newBuilder().setFrameworkId(framework.id).setTaskId(task.taskId());
    if (request.hasKillGracePeriod()) {
      kill.setKillGracePeriod(request.getKillGracePeriod());
    }
    out.command(task.agentId(), MasterMessage.newBuilder().setKillTask(kill).build());
  }

  void acknowledge(FrameworkState framework, AcknowledgeRequest request, Outbox out) {
    if (request.getAgentId().isEmpty()) {
      out.refuse(new Refusal.InvalidArgument("agent_id is missing"));
      return;
    }
    if (request.getTaskId().isEmpty()) {
      out.refuse(new Refusal.InvalidArgument("task_id is missing"));
      return;
    }
    if (request.getUuid().isEmpty()) {
      out.refuse(
          new Refusal.InvalidArgument(
              "uuid is missing: only updates with a uuid are acknowledged"));
      return;
    }
    TaskRegistry.Entry task = state.tasks.get(framework.id, request.getTaskId());
    if (task != null
        && task.agentId().equals(request.getAgentId())
        && task.latestStatus != null
        && task.latestStatus.getUuid().equals(request.getUuid())
        && TaskStates.isTerminal(task.latestStatus.getState())) {
      state.tasks.remove(task);
    }
    out.command(
        request.getAgentId(),
        MasterMessage.newBuilder()
            .setAcknowledgement(
                Acknowledgement.newBuilder()
                    .setFrameworkId(framework.id)
                    .setTaskId(request.getTaskId())
                    .setUuid(request.getUuid()))
            .build());
  }

  void reconcile(FrameworkState framework, ReconcileRequest request, Outbox out) {
    for (ReconcileRequest.Task t : request.getTasksList()) {
      if (t.getTaskId().isEmpty()) {
        out.refuse(new Refusal.InvalidArgument("a task to reconcile has no task_id"));
        return;
      }
    }
    if (request.getTasksList().isEmpty()) {
      for (TaskRegistry.Entry task : state.tasks.ofFramework(framework.id)) {
        out.update(framework, latest(framework, task, out));
      }
      return;
    }
    for (ReconcileRequest.Task t : request.getTasksList()) {
      TaskRegistry.Entry task = state.tasks.get(framework.id, t.getTaskId());
      if (task == null) {
        reconcileUnknown(framework, t.getTaskId(), t.getAgentId(), out);
      } else {
        out.update(framework, latest(framework, task, out));
      }
    }
  }

  private TaskStatus latest(FrameworkState framework, TaskRegistry.Entry task, Outbox out) {
    TaskStatus.Builder status =
        MasterStatuses.of(
            framework,
            task.taskId(),
            task.agentId(),
            task.state,
            TaskStatus.Reason.REASON_RECONCILIATION,
            "Reconciliation: latest task state",
            out.now)
            .toBuilder();
    if (task.latestStatus != null
        && task.latestStatus.getState() == task.state
        && task.latestStatus.hasExitCode()) {
      status.setExitCode(task.latestStatus.getExitCode());
    }
    return status.build();
  }

  /**
   * A task the master does not know, as Mesos answers it: TASK_GONE_BY_OPERATOR on a gone agent,
   * TASK_UNREACHABLE on an unreachable one, nothing at all on an agent expected to re-register
   * after a failover (it may still report the task: the framework asks again later), TASK_UNKNOWN
   * otherwise (TASK_LOST for the first three without PARTITION_AWARE).
   */
  private void reconcileUnknown(
      FrameworkState framework, String taskId, String agentId, Outbox out) {
    if (!agentId.isEmpty() && state.agents.isRecovering(agentId)) {
      return;
    }
    boolean gone = !agentId.isEmpty() && state.agents.isGone(agentId);
    boolean unreachable = !agentId.isEmpty() && state.agents.isUnreachable(agentId);
    out.update(
        framework,
        MasterStatuses.of(
            framework,
            taskId,
            agentId,
            gone
                ? TaskState.TASK_GONE_BY_OPERATOR
                : unreachable ? TaskState.TASK_UNREACHABLE : TaskState.TASK_UNKNOWN,
            TaskStatus.Reason.REASON_RECONCILIATION,
            gone
                ? "Reconciliation: task is unknown, its agent is gone"
                : unreachable
                    ? "Reconciliation: task is unknown, its agent is unreachable"
                    : "Reconciliation: task is unknown to the master",
            out.now));
  }
}
