package io.kmesos.master.core;

import io.kmesos.api.resources.Resources;
import io.kmesos.api.v1.Task;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStates;
import io.kmesos.api.v1.TaskStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * The tasks the master knows: launched and not terminal, or terminal with a terminal update not yet
 * acknowledged (as the operator's view lists them).
 *
 * <p>Guarantees: at most one task per framework and task ID; iteration is by framework ID, then
 * task ID. Each task keeps the role its resources are charged to in the allocator, and its state:
 * the core recovers a task's resources exactly once, on its first move to a terminal state (see
 * {@link Entry#releasesOn}), or when its agent becomes unreachable (state TASK_UNREACHABLE: live,
 * not charged, until the agent re-registers with it).
 */
final class TaskRegistry {
  /** One task. Mutable, owned by this registry. */
  static final class Entry {
    final String frameworkId;
    final TaskInfo info;
    final String role;
    final Resources resources;
    TaskState state;

    /** The latest update sent towards the framework; null while STAGING. */
    TaskStatus latestStatus;

    Entry(String frameworkId, TaskInfo info, String role, Resources resources, TaskState state) {
      this.frameworkId = frameworkId;
      this.info = info;
      this.role = role;
      this.resources = resources;
      this.state = state;
    }

    String taskId() {
      return info.getTaskId();
    }

    String agentId() {
      return info.getAgentId();
    }

    boolean terminal() {
      return TaskStates.isTerminal(state);
    }

    /** Whether moving to {@code next} ends the task (it was not terminal, and next is). */
    boolean becomesTerminal(TaskState next) {
      return !terminal() && TaskStates.isTerminal(next);
    }

    /**
     * Whether its resources are charged in the allocator: live, and not UNREACHABLE (an unreachable
     * agent's resources left the allocator with it; they are charged again when the agent
     * re-registers with the task).
     */
    boolean charged() {
      return !terminal() && state != TaskState.TASK_UNREACHABLE;
    }

    /** Whether moving to {@code next} must give its resources back: charged, and next ends it. */
    boolean releasesOn(TaskState next) {
      return charged() && TaskStates.isTerminal(next);
    }

    Task toProto() {
      Task.Builder t = Task.newBuilder().setInfo(info).setFrameworkId(frameworkId).setState(state);
      if (latestStatus != null) {
        t.setLatestStatus(latestStatus);
      }
      return t.build();
    }
  }

  private final TreeMap<String, TreeMap<String, Entry>> byFramework = new TreeMap<>();

  Entry get(String frameworkId, String taskId) {
    Map<String, Entry> tasks = byFramework.get(frameworkId);
    return tasks == null ? null : tasks.get(taskId);
  }

  /** Adds the task, replacing a terminal one of the same ID (task IDs may be reused after). */
  void put(Entry entry) {
    Entry old = get(entry.frameworkId, entry.taskId());
    if (old != null && !old.terminal()) {
      throw new IllegalStateException(
          "task '" + entry.taskId() + "' of framework '" + entry.frameworkId + "' is live");
    }
    byFramework.computeIfAbsent(entry.frameworkId, f -> new TreeMap<>()).put(entry.taskId(), entry);
  }

  void remove(Entry entry) {
    TreeMap<String, Entry> tasks = byFramework.get(entry.frameworkId);
    if (tasks != null && tasks.get(entry.taskId()) == entry) {
      tasks.remove(entry.taskId());
      if (tasks.isEmpty()) {
        byFramework.remove(entry.frameworkId);
      }
    }
  }

  /** Whether the framework has a task of this ID that is not terminal. */
  boolean isLive(String frameworkId, String taskId) {
    Entry e = get(frameworkId, taskId);
    return e != null && !e.terminal();
  }

  /** The framework's tasks, by task ID (a copy). */
  List<Entry> ofFramework(String frameworkId) {
    TreeMap<String, Entry> tasks = byFramework.get(frameworkId);
    return tasks == null ? List.of() : new ArrayList<>(tasks.values());
  }

  /** The tasks on the agent, by framework then task ID (a copy). */
  List<Entry> onAgent(String agentId) {
    return matching(e -> e.agentId().equals(agentId));
  }

  /** Every task that matches, by framework then task ID (a copy). */
  List<Entry> matching(Predicate<Entry> p) {
    List<Entry> list = new ArrayList<>();
    for (TreeMap<String, Entry> tasks : byFramework.values()) {
      for (Entry e : tasks.values()) {
        if (p.test(e)) {
          list.add(e);
        }
      }
    }
    return list;
  }
}
