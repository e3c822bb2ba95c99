package io.kmesos.master.core;

import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.agent.v1.RunTask;
import io.kmesos.api.resources.Resources;
import io.kmesos.api.scheduler.v1.AcceptRequest;
import io.kmesos.api.scheduler.v1.DeclineRequest;
import io.kmesos.api.scheduler.v1.Operation;
import io.kmesos.api.v1.Filters;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Accept and Decline: what a framework does with its offers.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>An Accept whose offers are invalid ({@link OfferCheck}) applies no operation: it is refused
 *       ({@link Refusal.InvalidOffers}, naming each offending offer), the framework's own offers it
 *       named go back to the allocator without a refusal filter, and each task it launched ends
 *       TASK_DROPPED (TASK_LOST without PARTITION_AWARE) with REASON_INVALID_OFFERS, as in Mesos.
 *   <li>Otherwise each task is checked on its own ({@link TaskCheck}), in order: an invalid one
 *       ends TASK_ERROR (SOURCE_MASTER, REASON_TASK_INVALID, the problem in the message) and the
 *       others are unaffected; a valid one is recorded TASK_STAGING, takes its resources from the
 *       offers, and goes to its agent as run_task. What the tasks leave unused is declined with the
 *       call's filter (5 s when unset).
 *   <li>Every named offer of the framework is used at most once: it leaves the book for good.
 *       Decline gives back the named offers that are the framework's and outstanding, with its
 *       filter, and ignores the others (an offer may have been rescinded meanwhile).
 * </ul>
 */
final class Launcher {
  private final MasterState state;

  Launcher(MasterState state) {
    this.state = state;
  }

  void accept(FrameworkState framework, AcceptRequest request, Outbox out) {
    OfferCheck.Result offers =
        OfferCheck.check(request.getOfferIdsList(), framework.id, state.offers);
    List<TaskInfo> launches = launches(request.getOperationsList());
    if (!offers.valid()) {
      for (OfferBook.Outstanding offer : offers.own()) {
        state.dropOffer(offer, OfferBook.Retired.ACCEPTED, false, out);
      }
      for (TaskInfo task : launches) {
        out.update(
            framework,
            MasterStatuses.of(
                framework,
                task.getTaskId(),
                task.getAgentId(),
                TaskState.TASK_DROPPED,
                TaskStatus.Reason.REASON_INVALID_OFFERS,
                "Task launched with invalid offers: " + offers.message(),
                out.now));
      }
      out.refuse(new Refusal.InvalidOffers(offers.offending(), offers.message()));
      return;
    }
    OfferBook.Outstanding first = offers.own().get(0);
    Resources left = Resources.EMPTY;
    for (OfferBook.Outstanding offer : offers.own()) {
      state.offers.retire(offer.id(), OfferBook.Retired.ACCEPTED);
      left = left.plus(offer.resources());
    }
    TaskCheck.Context context =
        new TaskCheck.Context(framework, first.agentId(), first.role(), state.tasks);
    Set<String> earlier = new HashSet<>();
    for (TaskInfo task : launches) {
      TaskCheck.Result checked = TaskCheck.check(task, context, earlier, left);
      earlier.add(task.getTaskId());
      if (!checked.valid()) {
        out.update(
            framework,
            MasterStatuses.of(
                framework,
                task.getTaskId(),
                task.getAgentId(),
                TaskState.TASK_ERROR,
                TaskStatus.Reason.REASON_TASK_INVALID,
                checked.error(),
                out.now));
        continue;
      }
      left = left.minus(checked.resources());
      state.tasks.put(
          new TaskRegistry.Entry(
              framework.id, task, first.role(), checked.resources(), TaskState.TASK_STAGING));
      out.command(
          first.agentId(),
          MasterMessage.newBuilder()
              .setRunTask(RunTask.newBuilder().setFramework(framework.info).setTask(task))
              .build());
    }
    state.allocator.decline(
        framework.id, first.agentId(), first.role(), left, refuse(request.getFilters()), out.now);
  }

  void decline(FrameworkState framework, DeclineRequest request, Outbox out) {
    Duration refuse = refuse(request.getFilters());
    for (String id : new LinkedHashSet<>(request.getOfferIdsList())) {
      OfferBook.Outstanding offer = state.offers.get(id);
      if (offer == null || !offer.frameworkId().equals(framework.id)) {
        continue;
      }
      state.offers.retire(id, OfferBook.Retired.DECLINED);
      state.allocator.decline(
          framework.id, offer.agentId(), offer.role(), offer.resources(), refuse, out.now);
    }
  }

  private static List<TaskInfo> launches(List<Operation> operations) {
    List<TaskInfo> tasks = new ArrayList<>();
    for (Operation op : operations) {
      if (op.hasLaunch()) {
        tasks.addAll(op.getLaunch().getTasksList());
      }
    }
    return tasks;
  }

  /** The filter's refusal; null (the allocator's 5 s default) when unset. */
  private static Duration refuse(Filters filters) {
    if (!filters.hasRefuse()) {
      return null;
    }
    return Duration.ofSeconds(filters.getRefuse().getSeconds(), filters.getRefuse().getNanos());
  }
}
