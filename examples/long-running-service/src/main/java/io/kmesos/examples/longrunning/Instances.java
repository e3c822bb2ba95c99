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
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The service's bookkeeping, without any I/O: which instances (tasks) it knows and in what phase,
 * and what to do with offers and updates so that {@code wanted} of them run. The scheduler applies
 * its decisions.
 *
 * <p>An instance counts towards {@code wanted} while it is launched or running. One that ends
 * (finished, failed, killed, lost, gone, dropped, unknown to the master) is forgotten and replaced.
 * One whose agent is out of reach (TASK_UNREACHABLE) is replaced too, but remembered: it may still
 * run, and its agent may come back. When it does (a reconciliation answers TASK_RUNNING) it counts
 * again, and if more than {@code wanted} then count, the newest (the highest launch number: the
 * replacements) are killed, as Marathon's default kill selection (youngest first) does. The copy
 * that came back has run longest and is known to run, while its replacement may not have started
 * yet; and an agent that was only away for a while (restarted past the master's ping timeouts)
 * keeps its processes, so the service ends with the same processes it had before.
 */
final class Instances {
  /** What to do with a batch of offers. */
  record OfferPlan(Map<String, List<TaskInfo>> launches, List<String> declines, boolean suppress) {}

  /** A task to kill, on its agent. */
  record Kill(String taskId, String agentId) {}

  /** What an update changes: a line to print, whether offers are needed again, tasks to kill. */
  record UpdatePlan(String message, boolean revive, List<Kill> kill) {
    static final UpdatePlan NOTHING = new UpdatePlan(null, false, List.of());
  }

  /** Where an instance is, as far as the service knows. */
  enum Phase {
    /** Launched, not yet reported running. Counts. */
    LAUNCHED,
    /** Running. Counts. */
    RUNNING,
    /** Its agent is out of reach: it may run, but does not count (it is replaced). */
    UNREACHABLE,
    /** One too many: being killed. Does not count. */
    KILLING
  }

  private static final class Instance {
    final String id;
    final long number;
    String agentId;
    Phase phase;

    /** The subscription it was launched under (a launch may die with its master). */
    int subscription;

    Instance(String id, long number, String agentId, Phase phase, int subscription) {
      this.id = id;
      this.number = number;
      this.agentId = agentId;
      this.phase = phase;
      this.subscription = subscription;
    }

    boolean counts() {
      return phase == Phase.LAUNCHED || phase == Phase.RUNNING;
    }
  }

  private final String name;
  private final int wanted;
  private final String role;
  private final List<Resource> perInstance;
  private final CommandInfo command;

  /** Every instance not known to have ended, by task ID, in launch order. */
  private final Map<String, Instance> known = new LinkedHashMap<>();

  private long next;
  private int subscription;

  Instances(String name, int wanted, String role, List<Resource> perInstance, CommandInfo command) {
    this.name = name;
    this.wanted = wanted;
    this.role = role;
    this.perInstance = perInstance;
    this.command = command;
  }

  /** The instances that count: launched or running. */
  int live() {
    return (int) known.values().stream().filter(Instance::counts).count();
  }

  int missing() {
    return Math.max(0, wanted - live());
  }

  /**
   * The service's view in one line: how many instances run and which, then those launched, out of
   * reach or being killed, if any. It is printed whenever it changes.
   */
  String summary() {
    StringBuilder s =
        new StringBuilder("instances: ")
            .append(ids(Phase.RUNNING).size())
            .append(" of ")
            .append(wanted)
            .append(" running ")
            .append(ids(Phase.RUNNING));
    for (Phase p : List.of(Phase.LAUNCHED, Phase.UNREACHABLE, Phase.KILLING)) {
      List<String> ids = ids(p);
      if (!ids.isEmpty()) {
        s.append(", ").append(p.name().toLowerCase()).append(' ').append(ids);
      }
    }
    return s.toString();
  }

  private List<String> ids(Phase phase) {
    return known.values().stream().filter(i -> i.phase == phase).map(i -> i.id).toList();
  }

  /** A new subscription began: launches made before it may have died with the old master. */
  void onSubscribed() {
    subscription++;
  }

  /**
   * The tasks to reconcile explicitly now: those out of reach (to learn that they are back), those
   * being killed (to kill them again if they still run: kills are not retried), and those launched
   * under an earlier subscription that no agent has reported yet (the launch may have died with the
   * master: the new master answers TASK_UNKNOWN once their agent is back without them).
   */
  List<Kill> toReconcile() {
    return known.values().stream()
        .filter(
            i ->
                i.phase == Phase.UNREACHABLE
                    || i.phase == Phase.KILLING
                    || (i.phase == Phase.LAUNCHED && i.subscription < subscription))
        .map(i -> new Kill(i.id, i.agentId))
        .toList();
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
        long number = next++;
        String taskId = name + "-" + number;
        tasks.add(
            TaskInfo.newBuilder()
                .setTaskId(taskId)
                .setName(name)
                .setAgentId(offer.getAgentId())
                .addAllResources(perInstance)
                .setCommand(command)
                .build());
        known.put(
            taskId, new Instance(taskId, number, offer.getAgentId(), Phase.LAUNCHED, subscription));
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

  /** Follows a task's state: see the class comment. */
  UpdatePlan onUpdate(TaskStatus status) {
    String id = status.getTaskId();
    TaskState state = status.getState();
    Instance instance = known.get(id);
    if (TaskStates.isTerminal(state) || state == TaskState.TASK_UNKNOWN) {
      if (instance == null) {
        return UpdatePlan.NOTHING;
      }
      known.remove(id);
      String ended =
          id
              + " ended "
              + state.name()
              + (status.getMessage().isEmpty() ? "" : " (" + status.getMessage() + ")");
      return switch (instance.phase) {
        case LAUNCHED, RUNNING ->
            new UpdatePlan(ended + "; " + missing() + " to replace", true, List.of());
        case UNREACHABLE -> new UpdatePlan(ended + "; it was replaced already", false, List.of());
        case KILLING -> new UpdatePlan(ended + "; it was one too many", false, List.of());
      };
    }
    if (state == TaskState.TASK_UNREACHABLE) {
      if (instance == null || !instance.counts()) {
        return UpdatePlan.NOTHING;
      }
      instance.phase = Phase.UNREACHABLE;
      return new UpdatePlan(
          id
              + " is unreachable (agent "
              + instance.agentId
              + " is out of reach); "
              + missing()
              + " to replace",
          true,
          List.of());
    }
    if (state == TaskState.TASK_KILLING) {
      return UpdatePlan.NOTHING;
    }
    // Running, staging or starting: the task is alive.
    boolean running = state == TaskState.TASK_RUNNING;
    if (instance == null) {
      if (!id.startsWith(name + "-")) {
        return UpdatePlan.NOTHING;
      }
      // Still running from before (a reconciliation or its agent tells): take it back, and kill
      // what is then one too many.
      long number = numberOf(id);
      next = Math.max(next, number == Long.MAX_VALUE ? next : number + 1);
      instance =
          new Instance(
              id,
              number,
              status.getAgentId(),
              running ? Phase.RUNNING : Phase.LAUNCHED,
              subscription);
      known.put(id, instance);
      return surplus(id + " adopted (" + state.name() + ")");
    }
    if (!status.getAgentId().isEmpty()) {
      instance.agentId = status.getAgentId();
    }
    switch (instance.phase) {
      case LAUNCHED -> {
        if (running) {
          instance.phase = Phase.RUNNING;
          return new UpdatePlan(id + " running on agent " + instance.agentId, false, List.of());
        }
        return UpdatePlan.NOTHING;
      }
      case RUNNING -> {
        return UpdatePlan.NOTHING;
      }
      case UNREACHABLE -> {
        instance.phase = running ? Phase.RUNNING : Phase.LAUNCHED;
        instance.subscription = subscription;
        return surplus(id + " is back (" + state.name() + " on agent " + instance.agentId + ")");
      }
      case KILLING -> {
        // Still alive after the kill (a kill is not retried): kill it again.
        return new UpdatePlan(null, false, List.of(new Kill(id, instance.agentId)));
      }
    }
    return UpdatePlan.NOTHING;
  }

  /** After an instance came back: kills the newest of those that count beyond {@code wanted}. */
  private UpdatePlan surplus(String message) {
    int extra = live() - wanted;
    if (extra <= 0) {
      return new UpdatePlan(message, false, List.of());
    }
    List<Instance> newest =
        known.values().stream()
            .filter(Instance::counts)
            .sorted(Comparator.comparingLong((Instance i) -> i.number).reversed())
            .limit(extra)
            .toList();
    List<Kill> kills = new ArrayList<>();
    for (Instance i : newest) {
      i.phase = Phase.KILLING;
      kills.add(new Kill(i.id, i.agentId));
    }
    return new UpdatePlan(
        message
            + "; "
            + (wanted + extra)
            + " instances for "
            + wanted
            + ": killing the newest, "
            + String.join(", ", kills.stream().map(Kill::taskId).toList()),
        false,
        kills);
  }

  /** The launch number in a task ID of this service ({@code <name>-<n>}), or the highest. */
  private long numberOf(String id) {
    try {
      return Long.parseLong(id.substring(name.length() + 1));
    } catch (NumberFormatException e) {
      return Long.MAX_VALUE; // not one this service made: the newest
    }
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
