package io.kmesos.master.core;

import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.agent.v1.ShutdownFramework;
import io.kmesos.api.registry.v1.Framework;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.master.allocator.Allocator;
import java.time.Instant;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * Everything the core holds, and the few steps that keep its books and the allocator in agreement
 * whoever takes them: giving back an offer, ending a task the master ends itself, removing a
 * framework.
 *
 * <p>Guarantees: every outstanding offer and every task that is not terminal (nor UNREACHABLE) is
 * charged to its framework and role in the allocator, and nothing else is; these steps keep it so
 * (an offer's resources are recovered when it leaves the book, a task's when it first becomes
 * terminal or its agent unreachable).
 */
final class MasterState {
  final MasterConfig config;
  final IdSource ids;
  final Allocator allocator;
  final FrameworkRegistry frameworks = new FrameworkRegistry();
  final AgentBook agents = new AgentBook();
  final OfferBook offers = new OfferBook();
  final TaskRegistry tasks = new TaskRegistry();

  /**
   * The frameworks were recovered from the registry ({@link Subscriptions#recover}): every
   * framework that holds an ID is in it, so an ID this master does not know was removed (or never
   * existed).
   */
  boolean frameworksFromRegistry;

  /**
   * After a failover ({@link AgentEvents#recover}): no offers until {@code agentsBack} reaches
   * {@link MasterConfig#agentRecoveryFactor} of {@code agentsExpected}, or until {@code
   * holdOffUntil}; null once offers may be made.
   */
  Instant holdOffUntil;

  int agentsExpected;
  int agentsBack;

  MasterState(MasterConfig config, IdSource ids) {
    this.config = config;
    this.ids = ids;
    this.allocator = new Allocator(config.allocator());
  }

  /**
   * Whether the framework is gone for good: removed by this master, or unknown to a master that
   * recovered the registry's frameworks (removed by an earlier one). Its tasks are to be killed.
   */
  boolean isGone(String frameworkId) {
    return frameworks.isRemoved(frameworkId)
        || (frameworksFromRegistry
            && !frameworkId.isEmpty()
            && frameworks.get(frameworkId) == null);
  }

  /**
   * Brings the registry's record of the framework up to date with its info and {@code
   * disconnectedAt} (null: subscribed): an Add if the registry holds nothing of it, an Update if
   * the record changed, nothing otherwise. The first registration time is kept.
   */
  void record(FrameworkState framework, Instant disconnectedAt, Outbox out) {
    Framework.Builder next =
        Framework.newBuilder()
            .setInfo(framework.info)
            .setRegisteredAt(
                framework.record != null
                    ? framework.record.getRegisteredAt()
                    : MasterStatuses.timestamp(out.now));
    if (disconnectedAt != null) {
      next.setDisconnectedAt(MasterStatuses.timestamp(disconnectedAt));
    }
    Framework built = next.build();
    if (framework.record == null) {
      out.record(new FrameworkRecord.Add(built));
    } else if (!built.equals(framework.record)) {
      out.record(new FrameworkRecord.Update(built));
    }
    framework.record = built;
  }

  /**
   * Takes the offer out of the book and gives its resources back to the allocator (no refusal
   * filter); with {@code rescind}, tells the framework.
   */
  void dropOffer(OfferBook.Outstanding offer, OfferBook.Retired how, boolean rescind, Outbox out) {
    offers.retire(offer.id(), how);
    allocator.recover(offer.frameworkId(), offer.agentId(), offer.role(), offer.resources());
    FrameworkState framework = frameworks.get(offer.frameworkId());
    if (rescind && framework != null) {
      out.rescind(framework, offer.id());
    }
  }

  /** {@link #dropOffer} of every outstanding offer that matches, as RESCINDED. */
  void dropOffers(Predicate<OfferBook.Outstanding> which, boolean rescind, Outbox out) {
    for (OfferBook.Outstanding offer : offers.matching(which)) {
      dropOffer(offer, OfferBook.Retired.RESCINDED, rescind, out);
    }
  }

  /**
   * Moves the task to {@code status.state} as the master decides (not an agent's update): records
   * it, gives its resources back if it ends, tells the framework, and forgets the task if the state
   * is terminal (no one acknowledges a master's update).
   */
  void masterUpdate(TaskRegistry.Entry task, TaskStatus status, Outbox out) {
    if (task.releasesOn(status.getState())) {
      allocator.recover(task.frameworkId, task.agentId(), task.role, task.resources);
    }
    if (!task.terminal()) {
      task.state = status.getState();
    }
    task.latestStatus = status;
    FrameworkState framework = frameworks.get(task.frameworkId);
    if (framework != null) {
      out.update(framework, status);
    }
    if (task.terminal()) {
      tasks.remove(task);
    }
  }

  /** {@link #masterUpdate} with a status the master generates for the task. */
  void masterUpdate(
      TaskRegistry.Entry task, TaskState state, TaskStatus.Reason reason, String why, Outbox out) {
    FrameworkState framework = frameworks.get(task.frameworkId);
    masterUpdate(
        task,
        MasterStatuses.of(framework, task.taskId(), task.agentId(), state, reason, why, out.now),
        out);
  }

  /**
   * Removes the framework for good: its offers rescinded, its subscription ended with {@code
   * error}, its tasks forgotten (the agents that hold them, if connected, get shutdown_framework
   * and kill them), its resources back to the allocator, its ID never to subscribe again, its
   * registry record removed.
   */
  void removeFramework(
      FrameworkState framework, FrameworkRemoved.Why why, String error, Outbox out) {
    dropOffers(o -> o.frameworkId().equals(framework.id), true, out);
    out.endSubscription(framework, SubscriptionEnded.Why.TORN_DOWN, error);
    TreeSet<String> agentsWithTasks = new TreeSet<>();
    for (TaskRegistry.Entry task : tasks.ofFramework(framework.id)) {
      agentsWithTasks.add(task.agentId());
      if (task.releasesOn(TaskState.TASK_KILLED)) {
        allocator.recover(task.frameworkId, task.agentId(), task.role, task.resources);
      }
      tasks.remove(task);
    }
    for (String agentId : agentsWithTasks) {
      out.command(agentId, shutdown(framework.id));
    }
    allocator.removeFramework(framework.id);
    frameworks.remove(framework.id);
    out.removed(framework.id, why);
    if (framework.record != null) {
      out.record(new FrameworkRecord.Remove(framework.id, why));
      framework.record = null;
    }
  }

  static MasterMessage shutdown(String frameworkId) {
    return MasterMessage.newBuilder()
        .setShutdownFramework(ShutdownFramework.newBuilder().setFrameworkId(frameworkId))
        .build();
  }
}
