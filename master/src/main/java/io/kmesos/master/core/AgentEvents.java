package io.kmesos.master.core;

import com.google.protobuf.util.Durations;
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.agent.v1.Registered;
import io.kmesos.api.agent.v1.Reregistered;
import io.kmesos.api.agent.v1.StatusUpdate;
import io.kmesos.api.resources.ResourceProtos;
import io.kmesos.api.resources.Resources;
import io.kmesos.api.scheduler.v1.Event;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Task;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStates;
import io.kmesos.api.v1.TaskStatus;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The agents' side: (re-)registration, a session that ends, an agent unreachable or removed, status
 * updates.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>Admission is the shell's (it checks the registry); the core takes what was admitted. An
 *       agent's resources are offered only while it has a session; its outstanding offers are
 *       rescinded whenever its session ends or starts again.
 *   <li>After a re-registration the master's tasks on the agent are exactly the tasks the agent
 *       listed: a task it believed there and not listed ends (TASK_DROPPED if still STAGING, else
 *       TASK_GONE with REASON_AGENT_RESTARTED; TASK_LOST without PARTITION_AWARE); a listed task it
 *       did not know is adopted (its framework recovered from the agent's FrameworkInfo if
 *       unknown), its resources charged; a listed task of a removed framework gets the agent a
 *       shutdown_framework, as does one of a framework unknown to a master that recovered the
 *       registry's frameworks (the registry holds every framework until it is removed). A plain
 *       registration lists nothing, so every task believed there ends. An agent that was
 *       unreachable re-registers like any other: its listed tasks, TASK_UNREACHABLE meanwhile, take
 *       the agent's state again and are charged again; frameworks hear of it by reconciliation and
 *       by the agent's own updates, as in Mesos (the master sends no update of its own).
 *   <li>A status update is recorded (the task's latest state, which may be the agent's {@code
 *       latest_state} ahead of the update) and forwarded to the framework as it came, uuid
 *       included; the first terminal state gives the task's resources back to the allocator. An
 *       update for a removed framework (or one unknown to a master that recovered the registry's
 *       frameworks) gets the agent a shutdown_framework instead.
 * </ul>
 */
final class AgentEvents {
  private final MasterState state;

  AgentEvents(MasterState state) {
    this.state = state;
  }

  void registered(String agentId, String hostname, Resources total, Outbox out) {
    forgetTasksNotIn(agentId, Set.of(), out);
    resetAgent(agentId, hostname, total, out);
    out.command(
        agentId,
        MasterMessage.newBuilder()
            .setRegistered(
                Registered.newBuilder()
                    .setAgentId(agentId)
                    .setMasterInfo(state.config.masterInfo())
                    .setPingInterval(pingInterval()))
            .build());
  }

  void reregistered(
      String agentId,
      String hostname,
      Resources total,
      List<Task> tasks,
      List<FrameworkInfo> frameworks,
      Outbox out) {
    for (FrameworkInfo info : frameworks) {
      recoverFramework(info);
    }
    Set<String> listed = new HashSet<>();
    for (Task t : tasks) {
      listed.add(key(t.getFrameworkId(), t.getInfo().getTaskId()));
    }
    forgetTasksNotIn(agentId, listed, out);
    resetAgent(agentId, hostname, total, out);
    out.command(
        agentId,
        MasterMessage.newBuilder()
            .setReregistered(
                Reregistered.newBuilder()
                    .setAgentId(agentId)
                    .setMasterInfo(state.config.masterInfo())
                    .setPingInterval(pingInterval()))
            .build());
    List<Task> sorted = new ArrayList<>(tasks);
    sorted.sort(
        Comparator.comparing(Task::getFrameworkId).thenComparing(t -> t.getInfo().getTaskId()));
    TreeSet<String> shutdown = new TreeSet<>();
    for (Task t : sorted) {
      if (state.isGone(t.getFrameworkId())) {
        shutdown.add(t.getFrameworkId());
      } else {
        adopt(agentId, t);
      }
    }
    for (String frameworkId : shutdown) {
      out.command(agentId, MasterState.shutdown(frameworkId));
    }
  }

  /** A framework the agent runs tasks of, known to this master only from the agent. */
  private void recoverFramework(FrameworkInfo info) {
    String id = info.getId();
    if (id.isEmpty()
        || state.frameworks.get(id) != null
        || state.isGone(id)
        || FrameworkInfoCheck.problem(info, List.of()) != null) {
      return;
    }
    FrameworkState framework = new FrameworkState(info);
    framework.recovered = true;
    state.frameworks.add(framework);
    state.allocator.addFramework(id, framework.roles(), Set.of());
    state.allocator.deactivateFramework(id);
  }

  /** Takes a listed task as the truth, and charges its resources if it is live. */
  private void adopt(String agentId, Task t) {
    FrameworkState framework = state.frameworks.get(t.getFrameworkId());
    if (framework == null) {
      return; // listed without its FrameworkInfo: nothing to hold it by
    }
    TaskRegistry.Entry entry = state.tasks.get(framework.id, t.getInfo().getTaskId());
    if (entry == null || !entry.agentId().equals(agentId)) {
      if (entry != null) {
        // The same ID on another agent: the agents are the truth, the last one listing it wins.
        if (entry.charged()) {
          state.allocator.recover(framework.id, entry.agentId(), entry.role, entry.resources);
        }
        state.tasks.remove(entry);
      }
      Resources resources;
      try {
        resources = ResourceProtos.read(t.getInfo().getResourcesList());
      } catch (IllegalArgumentException e) {
        resources = Resources.EMPTY;
      }
      entry =
          new TaskRegistry.Entry(
              framework.id,
              t.getInfo().toBuilder().setAgentId(agentId).build(),
              framework.roles().first(),
              resources,
              t.getState());
      state.tasks.put(entry);
    } else {
      entry.state = t.getState();
    }
    if (t.hasLatestStatus()) {
      entry.latestStatus = t.getLatestStatus();
    }
    if (!entry.terminal() && !entry.resources.isEmpty()) {
      try {
        state.allocator.allocated(framework.id, agentId, entry.role, entry.resources);
      } catch (IllegalArgumentException e) {
        // More than the agent has: its report is inconsistent; the task runs uncharged.
      }
    }
  }

  /**
   * Ends the tasks the master believes are on the agent and that are not in {@code listed}
   * (framework/task keys): the agent no longer holds them.
   */
  private void forgetTasksNotIn(String agentId, Set<String> listed, Outbox out) {
    for (TaskRegistry.Entry task : state.tasks.onAgent(agentId)) {
      if (listed.contains(key(task.frameworkId, task.taskId()))) {
        continue;
      }
      if (task.terminal()) {
        state.tasks.remove(task); // its terminal update is gone with the agent's state
      } else if (task.state == TaskState.TASK_STAGING) {
        state.masterUpdate(
            task,
            TaskState.TASK_DROPPED,
            TaskStatus.Reason.REASON_TASK_UNKNOWN,
            "Task was not started: agent '" + agentId + "' does not hold it",
            out);
      } else {
        state.masterUpdate(
            task,
            TaskState.TASK_GONE,
            TaskStatus.Reason.REASON_AGENT_RESTARTED,
            "Agent '" + agentId + "' restarted and does not hold the task any more",
            out);
      }
    }
  }

  /**
   * The agent's books start over (with a session) at {@code total}: offers rescinded, no charges.
   */
  private void resetAgent(String agentId, String hostname, Resources total, Outbox out) {
    if (state.agents.isRecovering(agentId)) {
      state.agentsBack++; // one more of the agents expected after a failover
    }
    state.dropOffers(o -> o.agentId().equals(agentId), true, out);
    if (state.agents.get(agentId) != null) {
      state.allocator.removeAgent(agentId);
    }
    state.agents.put(agentId, hostname, total);
    state.allocator.addAgent(agentId, hostname, total);
  }

  /**
   * After a failover: the registry's admitted agents are expected to re-register; offers wait for
   * them ({@link Ticker}).
   */
  void recover(List<String> admitted, Instant now) {
    state.agents.expect(admitted);
    int expected = 0;
    for (String id : admitted) {
      if (state.agents.isRecovering(id)) {
        expected++;
      }
    }
    state.agentsExpected = expected;
    state.agentsBack = 0;
    state.holdOffUntil =
        expected == 0 || state.config.allocationHoldOff().isZero()
            ? null
            : now.plus(state.config.allocationHoldOff());
  }

  void disconnected(String agentId, Outbox out) {
    AgentBook.Agent agent = state.agents.get(agentId);
    if (agent == null || !agent.connected) {
      return;
    }
    agent.connected = false;
    state.dropOffers(o -> o.agentId().equals(agentId), true, out);
    state.allocator.deactivateAgent(agentId);
  }

  void removed(String agentId, AgentRemoval how, Outbox out) {
    boolean gone = how == AgentRemoval.GONE_BY_OPERATOR;
    boolean known = state.agents.get(agentId) != null;
    if (!known && !state.agents.isUnreachable(agentId)) {
      state.agents.remove(agentId, gone);
      return;
    }
    state.dropOffers(o -> o.agentId().equals(agentId), true, out);
    for (TaskRegistry.Entry task : state.tasks.onAgent(agentId)) {
      if (task.terminal()) {
        state.tasks.remove(task);
      } else {
        state.masterUpdate(
            task,
            how.taskState,
            how.reason,
            "Agent '" + agentId + "' was removed" + (gone ? " as gone by an operator" : ""),
            out);
      }
    }
    if (known) {
      failure(agentId, out);
      state.allocator.removeAgent(agentId);
    }
    state.agents.remove(agentId, gone);
  }

  /**
   * The registry holds the agent as UNREACHABLE now (the shell marked it: no pong for the ping
   * timeouts, or not re-registered after a failover). Its offers are rescinded and its resources
   * leave the allocator; each live task becomes TASK_UNREACHABLE (TASK_LOST without
   * PARTITION_AWARE; REASON_AGENT_REMOVED, as Mesos's REASON_SLAVE_REMOVED) but stays listed, so
   * that reconciliation answers it and a re-registration that lists it takes it back; every
   * framework gets a {@code failure} event for the agent. An agent this master never saw (expected
   * after a failover) is only remembered as unreachable: its tasks are unknown here.
   */
  void unreachable(String agentId, Outbox out) {
    if (state.agents.get(agentId) == null) {
      if (state.agents.isRecovering(agentId)) {
        state.agents.markUnreachable(agentId);
      }
      return;
    }
    state.dropOffers(o -> o.agentId().equals(agentId), true, out);
    for (TaskRegistry.Entry task : state.tasks.onAgent(agentId)) {
      if (task.terminal()) {
        state.tasks.remove(task); // its terminal update waits on the agent, which will resend it
        continue;
      }
      if (task.charged()) {
        state.allocator.recover(task.frameworkId, agentId, task.role, task.resources);
      }
      task.state = TaskState.TASK_UNREACHABLE;
      FrameworkState framework = state.frameworks.get(task.frameworkId);
      if (framework != null) {
        TaskStatus status =
            MasterStatuses.of(
                framework,
                task.taskId(),
                agentId,
                TaskState.TASK_UNREACHABLE,
                TaskStatus.Reason.REASON_AGENT_REMOVED,
                "Agent '" + agentId + "' is unreachable",
                out.now);
        task.latestStatus = status;
        out.update(framework, status);
      }
    }
    failure(agentId, out);
    state.allocator.removeAgent(agentId);
    state.agents.markUnreachable(agentId);
  }

  private void failure(String agentId, Outbox out) {
    for (FrameworkState framework : state.frameworks.all()) {
      out.send(
          framework,
          Event.newBuilder().setFailure(Event.Failure.newBuilder().setAgentId(agentId)).build());
    }
  }

  void statusUpdate(String agentId, StatusUpdate update, Outbox out) {
    if (!state.agents.connected(agentId)) {
      return; // not from a live session: the agent retries it on its next one
    }
    TaskStatus status = update.getStatus();
    String frameworkId =
        update.getFrameworkId().isEmpty() ? status.getFrameworkId() : update.getFrameworkId();
    if (state.isGone(frameworkId)) {
      out.command(agentId, MasterState.shutdown(frameworkId));
      return;
    }
    FrameworkState framework = state.frameworks.get(frameworkId);
    if (framework == null) {
      return; // unknown: dropped, the agent retries it
    }
    TaskState latest = update.hasLatestState() ? update.getLatestState() : status.getState();
    TaskRegistry.Entry task = state.tasks.get(frameworkId, status.getTaskId());
    if (task != null && task.agentId().equals(agentId)) {
      if (task.releasesOn(latest)) {
        state.allocator.recover(frameworkId, agentId, task.role, task.resources);
      }
      if (!task.terminal() || TaskStates.isTerminal(latest)) {
        task.state = latest;
      }
      task.latestStatus = status;
    }
    out.update(framework, status);
  }

  private com.google.protobuf.Duration pingInterval() {
    return Durations.fromNanos(state.config.agentPingInterval().toNanos());
  }

  private static String key(String frameworkId, String taskId) {
    return frameworkId + "/" + taskId;
  }
}
