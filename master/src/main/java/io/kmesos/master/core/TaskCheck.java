package io.kmesos.master.core;

import io.kmesos.api.resources.ResourceProtos;
import io.kmesos.api.resources.Resources;
import io.kmesos.api.v1.TaskInfo;
import java.util.Set;

/**
 * Whether one task of a Launch may run on the accepted offers, as Mesos's task validation: an ID
 * unique within the call and among the framework's live tasks, the offers' agent, a command, valid
 * resources that are not empty, an allocation role that is still the framework's, and no more
 * resources than the offers have left after the earlier tasks.
 *
 * <p>Guarantee: an invalid task gets one message, naming the task and the first rule it breaks (in
 * the order above), which the framework reads in its TASK_ERROR update. Checking changes nothing.
 */
final class TaskCheck {
  /** What the call's tasks are checked against: the framework and its accepted offers. */
  record Context(FrameworkState framework, String agentId, String role, TaskRegistry tasks) {}

  /** The task's resources if it is valid ({@code error} null), else what is wrong. */
  record Result(Resources resources, String error) {
    boolean valid() {
      return error == null;
    }

    static Result invalid(String error) {
      return new Result(null, error);
    }
  }

  private TaskCheck() {}

  /**
   * @param earlierInCall the IDs of the tasks before this one in the call, valid or not
   * @param left what the offers have left after the earlier valid tasks
   */
  static Result check(TaskInfo task, Context ctx, Set<String> earlierInCall, Resources left) {
    String id = task.getTaskId();
    if (id.isEmpty()) {
      return Result.invalid("the task has no task_id");
    }
    String named = "task '" + id + "'";
    if (earlierInCall.contains(id)) {
      return Result.invalid("duplicate task ID: " + named + " is launched twice in this Accept");
    }
    if (ctx.tasks().isLive(ctx.framework().id, id)) {
      return Result.invalid(
          "duplicate task ID: "
              + named
              + " is a live task of framework '"
              + ctx.framework().id
              + "'");
    }
    if (!task.getAgentId().equals(ctx.agentId())) {
      return Result.invalid(
          named
              + " names agent '"
              + task.getAgentId()
              + "' but its offers are of agent '"
              + ctx.agentId()
              + "'");
    }
    if (!task.hasCommand() || task.getCommand().getValue().isBlank()) {
      return Result.invalid(named + " has an empty command");
    }
    Resources resources;
    try {
      resources = ResourceProtos.read(task.getResourcesList());
    } catch (IllegalArgumentException e) {
      return Result.invalid(named + " has invalid resources: " + e.getMessage());
    }
    if (resources.isEmpty()) {
      return Result.invalid(named + " uses no resources");
    }
    if (!ctx.framework().roles().contains(ctx.role())) {
      return Result.invalid(
          named
              + " is launched with resources allocated to role '"
              + ctx.role()
              + "', which is not a role of framework '"
              + ctx.framework().id
              + "' "
              + ctx.framework().roles());
    }
    if (!left.contains(resources)) {
      String shortfall;
      try {
        left.minus(resources);
        shortfall = "";
      } catch (IllegalArgumentException e) {
        String m = e.getMessage();
        int colon = m.lastIndexOf("': ");
        shortfall = colon < 0 ? "" : ": " + m.substring(colon + 3);
      }
      return Result.invalid(
          named
              + " uses more resources ("
              + resources
              + ") than its offers have left ("
              + left
              + ")"
              + shortfall);
    }
    return new Result(resources, null);
  }
}
