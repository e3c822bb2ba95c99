package io.kmesos.examples.longrunning;

import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.api.v1.Resource;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStates;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.framework.ResourceText;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The service's bookkeeping, without any I/O: which instances (tasks) are live, and what to do with
 * offers and updates so that {@code wanted} of them run. The scheduler applies its decisions.
 */
final class Instances {
  /** What to do with a batch of offers. */
  record OfferPlan(Map<String, List<TaskInfo>> launches, List<String> declines, boolean suppress) {}

  /** What an update changes: a line to print, whether offers are needed again, tasks to kill. */
  record UpdatePlan(String message, boolean revive, List<String> kill) {}

  private final String name;
  private final int wanted;
  private final String role;
  private final List<Resource> perInstance;
  private final CommandInfo command;

  /** Live (not terminal) instances: task ID → agent ID. */
  private final Map<String, String> live = new LinkedHashMap<>();

  private long next;

  Instances(String name, int wanted, String role, List<Resource> perInstance, CommandInfo command) {
    this.name = name;
    this.wanted = wanted;
    this.role = role;
    this.perInstance = perInstance;
    this.command = command;
  }

  int live() {
    return live.size();
  }

  int missing() {
    return Math.max(0, wanted - live.size());
  }

  /**
   * Launches missing instances on the offers (as many on one offer as fit), declines the rest; asks
   * to suppress once all run.
   */
  OfferPlan onOffers(List<Offer> offers) {
    Map<String, List<TaskInfo>> launches = new LinkedHashMap<>();
    List<String> declines = new ArrayList<>();
    for (Offer offer : offers) {
      List<TaskInfo> tasks = new ArrayList<>();
      List<Resource> left = offer.getResourcesList();
      while (missing() > 0
          && offer.getAllocationRole().equals(role)
          && ResourceText.contains(left, perInstance)) {
        String taskId = name + "-" + next++;
        tasks.add(
            TaskInfo.newBuilder()
                .setTaskId(taskId)
                .setName(name)
                .setAgentId(offer.getAgentId())
                .addAllResources(perInstance)
                .setCommand(command)
                .build());
        live.put(taskId, offer.getAgentId());
        left = minusScalars(left, perInstance);
      }
      if (tasks.isEmpty()) {
        declines.add(offer.getId());
      } else {
        launches.put(offer.getId(), tasks);
      }
    }
    return new OfferPlan(launches, declines, missing() == 0);
  }

  /** Follows a task's state: a terminal one frees its slot (to be replaced). */
  UpdatePlan onUpdate(TaskStatus status) {
    String id = status.getTaskId();
    boolean known = live.containsKey(id);
    if (TaskStates.isTerminal(status.getState())) {
      if (!known) {
        return new UpdatePlan(null, false, List.of());
      }
      live.remove(id);
      return new UpdatePlan(
          id
              + " ended "
              + status.getState().name()
              + (status.getMessage().isEmpty() ? "" : " (" + status.getMessage() + ")")
              + "; "
              + missing()
              + " to replace",
          true,
          List.of());
    }
    if (!known && id.startsWith(name + "-")) {
      // Still running from before a reconnection the client made (reconciliation tells): keep it,
      // unless it is one too many.
      if (live.size() >= wanted) {
        return new UpdatePlan(id + " is surplus; killing it", false, List.of(id));
      }
      live.put(id, status.getAgentId());
      return new UpdatePlan(id + " adopted (" + status.getState().name() + ")", false, List.of());
    }
    if (known && status.getState() == TaskState.TASK_RUNNING) {
      return new UpdatePlan(id + " running on agent " + status.getAgentId(), false, List.of());
    }
    return new UpdatePlan(null, false, List.of());
  }

  /** What is left of an offer after one more instance (scalars; ranges are not split here). */
  private static List<Resource> minusScalars(List<Resource> offered, List<Resource> used) {
    List<Resource> left = new ArrayList<>();
    for (Resource o : offered) {
      Resource u =
          used.stream().filter(r -> r.getName().equals(o.getName())).findFirst().orElse(null);
      if (u == null) {
        left.add(o);
      } else if (u.hasRanges()) {
        // A range taken once may not be taken again: drop it from what is left.
        continue;
      } else {
        left.add(o.toBuilder().setScalar(Math.max(0, o.getScalar() - u.getScalar())).build());
      }
    }
    return left;
  }
}
