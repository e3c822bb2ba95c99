package io.kmesos.master.core;

import static io.kmesos.master.core.Harness.PRINCIPAL;
import static io.kmesos.master.core.Harness.accept;
import static io.kmesos.master.core.Harness.commands;
import static io.kmesos.master.core.Harness.info;
import static io.kmesos.master.core.Harness.offers;
import static io.kmesos.master.core.Harness.r;
import static io.kmesos.master.core.Harness.task;
import static io.kmesos.master.core.Harness.updates;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.util.Durations;
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.agent.v1.RunTask;
import io.kmesos.api.resources.ResourceProtos;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.master.core.Harness.Fw;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Accept and Decline: offer validation, task validation, launches and what is left unused. */
class AcceptTest {
  final Harness h = new Harness();
  static final String AGENT = "cpus:4;mem:1024;ports:[31000-31009]";

  Fw framework(String name, FrameworkInfo.Capability... capabilities) {
    return h.subscribe(info(name, "web").addAllCapabilities(List.of(capabilities)));
  }

  /** The one offer of ag1 to f. */
  Offer offer(Fw f) {
    return offers(h.tick(), f.id()).get(0);
  }

  TaskStatus onlyUpdate(Effects e, Fw f) {
    assertThat(updates(e, f.id())).hasSize(1);
    return updates(e, f.id()).get(0);
  }

  @Test
  void validTasksGoToTheAgentStagingAndTheRestIsDeclinedForFiveSeconds() {
    Fw f = framework("f");
    h.agent("ag1", AGENT);
    Offer offer = offer(f);
    TaskInfo t1 = task("t1", "ag1", "cpus:1;mem:128;ports:[31000-31000]");
    TaskInfo t2 = task("t2", "ag1", "cpus:2;mem:256");
    Effects e = h.accept(f, offer, t1, t2);
    assertThat(e.refusal()).isEmpty();
    assertThat(e.events()).isEmpty(); // no update for STAGING, as in Mesos
    FrameworkInfo registered = h.core.state().getFrameworks(0).getInfo();
    assertThat(commands(e, "ag1"))
        .containsExactly(
            MasterMessage.newBuilder()
                .setRunTask(RunTask.newBuilder().setFramework(registered).setTask(t1))
                .build(),
            MasterMessage.newBuilder()
                .setRunTask(RunTask.newBuilder().setFramework(registered).setTask(t2))
                .build());
    assertThat(h.core.state().getTasksList())
        .extracting(t -> t.getInfo().getTaskId() + ":" + t.getState())
        .containsExactly("t1:TASK_STAGING", "t2:TASK_STAGING");

    // The unused cpus:1;mem:640;ports:[31001-31009] are refused for 5 s, then offered again.
    h.advanceSeconds(4.999);
    assertThat(offers(h.tick(), f.id())).isEmpty();
    h.advanceSeconds(0.001);
    assertThat(ResourceProtos.read(offer(f).getResourcesList()))
        .isEqualTo(r("cpus:1;mem:640;ports:[31001-31009]"));
  }

  @Test
  void theCallsFilterSetsTheRefusal() {
    Fw f = framework("f");
    h.agent("ag1", AGENT);
    Effects e =
        h.accept(
            accept(f, List.of(offer(f).getId()), task("t1", "ag1", "cpus:1;mem:128"))
                .setFilters(
                    io.kmesos.api.v1.Filters.newBuilder().setRefuse(Durations.fromSeconds(60))));
    assertThat(e.refusal()).isEmpty();
    h.advanceSeconds(59);
    assertThat(offers(h.tick(), f.id())).isEmpty();
    h.advanceSeconds(1);
    assertThat(offers(h.tick(), f.id())).hasSize(1);
  }

  @Test
  void aTaskNeedingMoreThanTheOffersHaveLeftEndsTaskErrorAndTheOthersRun() {
    Fw f = framework("f");
    h.agent("ag1", AGENT);
    Effects e =
        h.accept(
            f,
            offer(f),
            task("t1", "ag1", "cpus:3;mem:128"),
            task("t2", "ag1", "cpus:2;mem:128"),
            task("t3", "ag1", "cpus:1;mem:128"));
    assertThat(e.refusal()).isEmpty();
    TaskStatus error = onlyUpdate(e, f);
    assertThat(error.getTaskId()).isEqualTo("t2");
    assertThat(error.getState()).isEqualTo(TaskState.TASK_ERROR);
    assertThat(error.getSource()).isEqualTo(TaskStatus.Source.SOURCE_MASTER);
    assertThat(error.getReason()).isEqualTo(TaskStatus.Reason.REASON_TASK_INVALID);
    assertThat(error.getAgentId()).isEqualTo("ag1");
    assertThat(error.getFrameworkId()).isEqualTo(f.id());
    assertThat(error.getUuid().isEmpty()).isTrue();
    assertThat(error.getMessage())
        .isEqualTo(
            "task 't2' uses more resources (cpus:2;mem:128) than its offers have left"
                + " (cpus:1;mem:896;ports:[31000-31009]): not enough 'cpus' (1 < 2)");
    assertThat(commands(e, "ag1"))
        .extracting(m -> m.getRunTask().getTask().getTaskId())
        .containsExactly("t1", "t3");
  }

  @Test
  void aDuplicateTaskIdEndsTaskError() {
    Fw f = framework("f");
    h.agent("ag1", AGENT);
    h.accept(f, offer(f), task("t1", "ag1", "cpus:1;mem:128"));
    h.advanceSeconds(5);
    Effects e =
        h.accept(
            f,
            offer(f),
            task("t1", "ag1", "cpus:1;mem:128"),
            task("t2", "ag1", "cpus:1;mem:128"),
            task("t2", "ag1", "cpus:1;mem:128"));
    assertThat(updates(e, f.id()))
        .extracting(TaskStatus::getTaskId, TaskStatus::getState, TaskStatus::getMessage)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(
                "t1",
                TaskState.TASK_ERROR,
                "duplicate task ID: task 't1' is a live task of framework 'm1-0000'"),
            org.assertj.core.groups.Tuple.tuple(
                "t2",
                TaskState.TASK_ERROR,
                "duplicate task ID: task 't2' is launched twice in this Accept"));
    assertThat(commands(e, "ag1"))
        .extracting(m -> m.getRunTask().getTask().getTaskId())
        .containsExactly("t2");
  }

  @Test
  void theIdOfAnEndedTaskMayBeUsedAgain() {
    Fw f = framework("f");
    h.agent("ag1", AGENT);
    h.accept(f, offer(f), task("t1", "ag1", "cpus:1;mem:128"));
    h.statusUpdate(h.agentStatus(f.id(), "ag1", "t1", TaskState.TASK_FINISHED));
    h.advanceSeconds(5);
    Effects e = h.accept(f, offer(f), task("t1", "ag1", "cpus:1;mem:128"));
    assertThat(updates(e, f.id())).isEmpty();
    assertThat(commands(e, "ag1")).hasSize(1);
  }

  @Test
  void anEmptyCommandEndsTaskError() {
    Fw f = framework("f");
    h.agent("ag1", AGENT);
    TaskInfo noCommand = task("t1", "ag1", "cpus:1").toBuilder().clearCommand().build();
    TaskInfo blank =
        task("t2", "ag1", "cpus:1").toBuilder().setCommand(CommandInfo.newBuilder()).build();
    Effects e = h.accept(f, offer(f), noCommand, blank);
    assertThat(updates(e, f.id()))
        .extracting(TaskStatus::getMessage)
        .containsExactly("task 't1' has an empty command", "task 't2' has an empty command");
    assertThat(e.commands()).isEmpty();
    // Nothing used: all of the offer is declined (for 5 s) and comes back whole.
    h.advanceSeconds(5);
    assertThat(ResourceProtos.read(offer(f).getResourcesList())).isEqualTo(r(AGENT));
  }

  @Test
  void otherInvalidTasksEndTaskErrorNamingTheProblem() {
    Fw f = framework("f");
    h.agent("ag1", AGENT);
    Effects e =
        h.accept(
            f,
            offer(f),
            task("", "ag1", "cpus:1"),
            task("t2", "ag2", "cpus:1"),
            task("t3", "ag1", "cpus:1").toBuilder().clearResources().build(),
            task("t4", "ag1", "cpus:1").toBuilder()
                .addResources(io.kmesos.api.v1.Resource.newBuilder().setName("cpus").setScalar(1))
                .build());
    assertThat(updates(e, f.id()))
        .extracting(TaskStatus::getMessage)
        .containsExactly(
            "the task has no task_id",
            "task 't2' names agent 'ag2' but its offers are of agent 'ag1'",
            "task 't3' uses no resources",
            "task 't4' has invalid resources: resource 'cpus' is named twice");
    assertThat(e.commands()).isEmpty();
  }

  @Test
  void aRoleThatIsNotTheFrameworksEndsTaskError() {
    // The core withdraws offers when a framework's subscription changes, so this cannot be reached
    // through calls today; the check stands on its own.
    FrameworkState framework = new FrameworkState(info("f", "web").setId("f1").build());
    TaskCheck.Context ctx = new TaskCheck.Context(framework, "ag1", "batch", new TaskRegistry());
    TaskCheck.Result result =
        TaskCheck.check(task("t1", "ag1", "cpus:1"), ctx, java.util.Set.of(), r("cpus:4"));
    assertThat(result.error())
        .isEqualTo(
            "task 't1' is launched with resources allocated to role 'batch', which is not a role"
                + " of framework 'f1' [web]");
  }

  @Test
  void anUnknownOfferIsRefusedAndTheTasksAreLost() {
    Fw f = framework("f");
    h.agent("ag1", AGENT);
    Offer offer = offer(f);
    Effects e = h.accept(accept(f, List.of(offer.getId(), "m1-O99"), task("t1", "ag1", "cpus:1")));
    assertThat(e.refusal())
        .contains(new Refusal.InvalidOffers(List.of("m1-O99"), "offer 'm1-O99' is unknown"));
    assertThat(e.refusal().get().code()).isEqualTo(Refusal.Code.INVALID_ARGUMENT);
    // Not PARTITION_AWARE: TASK_LOST in place of TASK_DROPPED.
    TaskStatus lost = onlyUpdate(e, f);
    assertThat(lost.getState()).isEqualTo(TaskState.TASK_LOST);
    assertThat(lost.getReason()).isEqualTo(TaskStatus.Reason.REASON_INVALID_OFFERS);
    assertThat(lost.getSource()).isEqualTo(TaskStatus.Source.SOURCE_MASTER);
    assertThat(lost.getMessage())
        .isEqualTo("Task launched with invalid offers: offer 'm1-O99' is unknown");
    assertThat(e.commands()).isEmpty();
    // The valid offer's resources went back, without a filter: offered again at once.
    assertThat(offers(h.tick(), f.id()))
        .singleElement()
        .satisfies(o -> assertThat(ResourceProtos.read(o.getResourcesList())).isEqualTo(r(AGENT)));
  }

  @Test
  void aUsedOfferIsRefusedAndAPartitionAwareFrameworksTasksAreDropped() {
    Fw f = framework("f", FrameworkInfo.Capability.PARTITION_AWARE);
    h.agent("ag1", AGENT);
    Offer offer = offer(f);
    h.accept(f, offer, task("t1", "ag1", "cpus:1"));
    Effects again = h.accept(f, offer, task("t2", "ag1", "cpus:1"));
    assertThat(again.refusal().get().message())
        .isEqualTo("offer '" + offer.getId() + "' is already used by an Accept");
    TaskStatus dropped = onlyUpdate(again, f);
    assertThat(dropped.getState()).isEqualTo(TaskState.TASK_DROPPED);
    assertThat(dropped.getReason()).isEqualTo(TaskStatus.Reason.REASON_INVALID_OFFERS);

    Offer declined = offerAfter(f, 5);
    h.decline(f, declined, Duration.ZERO);
    assertThat(h.accept(f, declined).refusal().get().message())
        .isEqualTo("offer '" + declined.getId() + "' is already declined");
  }

  Offer offerAfter(Fw f, double seconds) {
    h.advanceSeconds(seconds);
    return offer(f);
  }

  @Test
  void anotherFrameworksOfferIsRefusedAndLeftAlone() {
    Fw f = framework("f");
    Fw g = framework("g");
    h.agent("ag1", AGENT);
    h.agent("ag2", AGENT);
    Effects tick = h.tick();
    Offer mine = offers(tick, f.id()).get(0);
    Offer theirs = offers(tick, g.id()).get(0);
    Effects e =
        h.accept(accept(f, List.of(mine.getId(), theirs.getId()), task("t1", "ag1", "cpus:1")));
    assertThat(e.refusal())
        .contains(
            new Refusal.InvalidOffers(
                List.of(theirs.getId()),
                "offer '" + theirs.getId() + "' is not an offer to framework 'm1-0000'"));
    assertThat(e.eventsFor(g.id())).isEmpty();
    // g's offer is intact: g can still use it.
    Effects used = h.accept(g, theirs, task("t1", theirs.getAgentId(), "cpus:1"));
    assertThat(used.refusal()).isEmpty();
    assertThat(used.commands()).hasSize(1);
  }

  @Test
  void offersOfTwoAgentsCannotBeCombined() {
    Fw f = framework("f");
    h.agent("ag1", AGENT);
    h.agent("ag2", AGENT);
    List<Offer> both = offers(h.tick(), f.id());
    assertThat(both).hasSize(2);
    Effects e =
        h.accept(
            accept(
                f, List.of(both.get(0).getId(), both.get(1).getId()), task("t1", "ag1", "cpus:1")));
    assertThat(e.refusal().get())
        .isEqualTo(
            new Refusal.InvalidOffers(
                List.of(both.get(1).getId()),
                "offer 'm1-O1' is of agent 'ag2', offer 'm1-O0' of agent 'ag1'"));
    // Both went back (they were f's): offered again at once.
    assertThat(offers(h.tick(), f.id())).hasSize(2);
  }

  @Test
  void anAcceptWithoutOffersIsRefused() {
    Fw f = framework("f");
    Effects e = h.accept(accept(f, List.of(), task("t1", "ag1", "cpus:1")));
    assertThat(e.refusal())
        .contains(new Refusal.InvalidOffers(List.of(), "an Accept must name at least one offer"));
    assertThat(onlyUpdate(e, f).getState()).isEqualTo(TaskState.TASK_LOST);
  }

  @Test
  void anOfferNamedTwiceIsRefused() {
    Fw f = framework("f");
    h.agent("ag1", AGENT);
    Offer offer = offer(f);
    Effects e = h.accept(accept(f, List.of(offer.getId(), offer.getId())));
    assertThat(e.refusal())
        .contains(
            new Refusal.InvalidOffers(
                List.of(offer.getId()), "offer '" + offer.getId() + "' is named twice"));
  }

  @Test
  void declineIgnoresOffersItMayNotUse() {
    Fw f = framework("f");
    h.agent("ag1", AGENT);
    Offer offer = offer(f);
    Effects e =
        h.core.decline(
            io.kmesos.api.scheduler.v1.DeclineRequest.newBuilder()
                .setFrameworkId(f.id())
                .setStreamId(f.stream())
                .addOfferIds("m1-O42")
                .addOfferIds(offer.getId())
                .build(),
            PRINCIPAL,
            h.now);
    assertThat(e).isEqualTo(Effects.NONE);
    // Declined with the default 5 s.
    h.advanceSeconds(4);
    assertThat(offers(h.tick(), f.id())).isEmpty();
    h.advanceSeconds(1);
    assertThat(offers(h.tick(), f.id())).hasSize(1);
  }
}
