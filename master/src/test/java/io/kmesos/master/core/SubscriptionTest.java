package io.kmesos.master.core;

import static io.kmesos.master.core.Harness.PRINCIPAL;
import static io.kmesos.master.core.Harness.commands;
import static io.kmesos.master.core.Harness.info;
import static io.kmesos.master.core.Harness.kinds;
import static io.kmesos.master.core.Harness.offers;
import static io.kmesos.master.core.Harness.task;
import static io.kmesos.master.core.Harness.updates;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.util.Durations;
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.resources.ResourceProtos;
import io.kmesos.api.scheduler.v1.Event;
import io.kmesos.api.scheduler.v1.Event.KindCase;
import io.kmesos.api.scheduler.v1.TeardownRequest;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.api.v1.TaskState;
import io.kmesos.master.core.Harness.Fw;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Subscribe, resubscribe, the end of a subscription, failover timeouts and teardown. */
class SubscriptionTest {
  final Harness h = new Harness();

  @Test
  void aNewFrameworkGetsTheNextIdAndAStreamAndIsToldTheHeartbeatInterval() {
    Effects e = h.subscribeRaw(info("web", "web"), PRINCIPAL);
    assertThat(e.refusal()).isEmpty();
    assertThat(e.events()).hasSize(1);
    FrameworkEvent first = e.events().get(0);
    assertThat(first.frameworkId()).isEqualTo("m1-0000");
    assertThat(first.streamId()).isEqualTo("m1-S0");
    Event.Subscribed s = first.event().getSubscribed();
    assertThat(s.getFrameworkId()).isEqualTo("m1-0000");
    assertThat(s.getStreamId()).isEqualTo("m1-S0");
    assertThat(s.getHeartbeatInterval()).isEqualTo(Durations.fromSeconds(15));
    assertThat(s.getMasterInfo()).isEqualTo(Harness.MASTER);

    assertThat(h.subscribe(info("batch", "batch")).id()).isEqualTo("m1-0001");
    // The principal is the connection's, whatever the FrameworkInfo said.
    FrameworkInfo registered = h.core.state().getFrameworks(0).getInfo();
    assertThat(registered.getId()).isEqualTo("m1-0000");
    assertThat(registered.getPrincipal()).isEqualTo(PRINCIPAL);
  }

  @Test
  void invalidFrameworkInfoIsRefused() {
    assertThat(h.subscribeRaw(info("f", "a", "b"), PRINCIPAL).refusal())
        .contains(
            new Refusal.InvalidArgument("a framework in 2 roles needs the MULTI_ROLE capability"));
    assertThat(h.subscribeRaw(info("f", "a", "a"), PRINCIPAL).refusal())
        .contains(new Refusal.InvalidArgument("role 'a' is named twice"));
    assertThat(h.subscribeRaw(info("f", "a/"), PRINCIPAL).refusal().get().message())
        .startsWith("invalid role 'a/'");
    assertThat(
            h.core
                .subscribe(
                    io.kmesos.api.scheduler.v1.SubscribeRequest.newBuilder()
                        .setFrameworkInfo(info("f", "a"))
                        .addSuppressedRoles("b")
                        .build(),
                    PRINCIPAL,
                    h.now)
                .refusal())
        .contains(
            new Refusal.InvalidArgument(
                "suppressed role 'b' is not one of the framework's roles [a]"));
    assertThat(h.core.state().getFrameworksList()).isEmpty();
  }

  @Test
  void noRolesIsTheDefaultRole() {
    Fw f = h.subscribe(info("f"));
    h.agent("ag1", "cpus:1;mem:128");
    assertThat(offers(h.tick(), f.id())).extracting(Offer::getAllocationRole).containsExactly("*");
  }

  /** A framework with a running task on ag1, and a failover timeout of one minute. */
  Fw frameworkWithATask() {
    Fw f = h.subscribe(info("web", "web").setFailoverTimeout(Durations.fromSeconds(60)));
    h.agent("ag1", "cpus:4;mem:1024");
    Offer offer = offers(h.tick(), f.id()).get(0);
    h.accept(f, offer, task("t1", "ag1", "cpus:1;mem:128"));
    h.statusUpdate(h.agentStatus(f.id(), "ag1", "t1", TaskState.TASK_RUNNING));
    return f;
  }

  @Test
  void aResubscriptionKeepsTheTasksAndEndsTheOldSubscription() {
    Fw f = frameworkWithATask();
    h.advanceSeconds(5); // the default refusal of what t1 left unused
    Offer outstanding = offers(h.tick(), f.id()).get(0); // offered again
    h.advanceSeconds(1);

    Effects e = h.subscribeRaw(info("web", "web").setId(f.id()), PRINCIPAL);
    assertThat(e.refusal()).isEmpty();
    // The old stream ends with an error saying why; the new one starts with subscribed.
    assertThat(e.events())
        .extracting(FrameworkEvent::streamId, fe -> fe.event().getKindCase())
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(f.stream(), KindCase.ERROR),
            org.assertj.core.groups.Tuple.tuple("m1-S1", KindCase.SUBSCRIBED));
    assertThat(e.events().get(0).event().getError().getMessage())
        .isEqualTo("Framework failed over: a new subscription of framework 'm1-0000' took over");
    assertThat(e.endedSubscriptions())
        .containsExactly(
            new SubscriptionEnded(f.id(), f.stream(), SubscriptionEnded.Why.SUPERSEDED));
    Fw again = new Fw(f.id(), "m1-S1");

    // The task is still there, and the offer the old stream had is gone (offered anew).
    assertThat(updates(h.reconcile(again), f.id()))
        .extracting(s -> s.getTaskId() + ":" + s.getState())
        .containsExactly("t1:TASK_RUNNING");
    Effects useOld = h.accept(again, outstanding, task("t2", "ag1", "cpus:1"));
    assertThat(useOld.refusal().get()).isInstanceOf(Refusal.InvalidOffers.class);
    assertThat(useOld.refusal().get().message())
        .isEqualTo("offer '" + outstanding.getId() + "' is rescinded");
    assertThat(offers(h.tick(), f.id()))
        .singleElement()
        .satisfies(o -> assertThat(o.getId()).isNotEqualTo(outstanding.getId()));

    // The old stream's calls are stale now.
    assertThat(h.reconcile(f).refusal().get())
        .isEqualTo(
            new Refusal.FailedPrecondition(
                "stream 'm1-S0' is not the current subscription of framework 'm1-0000':"
                    + " subscribe again and use the new stream ID"));
  }

  @Test
  void anotherPrincipalCannotTakeOverAFramework() {
    Fw f = h.subscribe(info("web", "web"));
    assertThat(h.subscribeRaw(info("web", "web").setId(f.id()), "mallory").refusal())
        .contains(
            new Refusal.PermissionDenied(
                "principal 'mallory' may not subscribe as framework 'm1-0000', registered by '"
                    + PRINCIPAL
                    + "'"));
  }

  @Test
  void aFrameworkThatComesBackWithinItsFailoverTimeoutKeepsItsTasks() {
    Fw f = frameworkWithATask();
    Effects gone = h.core.disconnected(f.id(), f.stream(), h.now);
    assertThat(gone.events()).isEmpty();
    assertThat(gone.commands()).isEmpty();
    assertThat(gone.removedFrameworks()).isEmpty();
    h.advanceSeconds(59.999);
    Effects tick = h.tick();
    assertThat(tick.removedFrameworks()).isEmpty();
    assertThat(tick.commands()).isEmpty();
    // While disconnected it gets no offers, though ag1 has 3 cpus free.
    assertThat(tick.events()).isEmpty();

    Effects back = h.subscribeRaw(info("web", "web").setId(f.id()), PRINCIPAL);
    assertThat(back.endedSubscriptions()).isEmpty(); // nothing was open
    assertThat(kinds(back, f.id())).containsExactly(KindCase.SUBSCRIBED);
    h.advanceSeconds(3600);
    assertThat(h.tick().removedFrameworks()).isEmpty();
    assertThat(h.core.state().getTasksList()).hasSize(1);
  }

  @Test
  void aFrameworkThatDoesNotComeBackInTimeIsRemovedAndItsTasksKilled() {
    Fw f = frameworkWithATask();
    h.core.disconnected(f.id(), f.stream(), h.now);
    h.advanceSeconds(60);
    Effects tick = h.tick();
    assertThat(tick.removedFrameworks())
        .containsExactly(
            new FrameworkRemoved(f.id(), FrameworkRemoved.Why.FAILOVER_TIMEOUT_EXPIRED));
    assertThat(commands(tick, "ag1")).containsExactly(MasterState.shutdown(f.id()));
    assertThat(h.core.state().getTasksList()).isEmpty();
    assertThat(h.core.state().getFrameworksList()).isEmpty();

    // Its ID can never subscribe again.
    assertThat(h.subscribeRaw(info("web", "web").setId(f.id()), PRINCIPAL).refusal())
        .contains(
            new Refusal.FailedPrecondition(
                "framework 'm1-0000' was torn down; it cannot subscribe again"));
    // An update the agent still had for it gets the agent told again.
    Effects late = h.statusUpdate(h.agentStatus(f.id(), "ag1", "t1", TaskState.TASK_KILLED));
    assertThat(late.events()).isEmpty();
    assertThat(commands(late, "ag1")).containsExactly(MasterState.shutdown(f.id()));
  }

  @Test
  void withoutAFailoverTimeoutAFrameworkIsRemovedWhenItsSubscriptionEnds() {
    Fw f = h.subscribe(info("web", "web"));
    h.agent("ag1", "cpus:4;mem:1024");
    h.accept(f, offers(h.tick(), f.id()).get(0), task("t1", "ag1", "cpus:1"));
    Effects e = h.core.disconnected(f.id(), f.stream(), h.now);
    assertThat(e.removedFrameworks())
        .containsExactly(
            new FrameworkRemoved(f.id(), FrameworkRemoved.Why.FAILOVER_TIMEOUT_EXPIRED));
    assertThat(commands(e, "ag1")).containsExactly(MasterState.shutdown(f.id()));
  }

  @Test
  void theEndOfAnOldSubscriptionChangesNothing() {
    Fw f = frameworkWithATask();
    h.subscribeRaw(info("web", "web").setId(f.id()), PRINCIPAL);
    assertThat(h.core.disconnected(f.id(), f.stream(), h.now)).isEqualTo(Effects.NONE);
    assertThat(h.core.state().getFrameworks(0).getConnected()).isTrue();
  }

  @Test
  void teardownKillsTheTasksRescindsTheOffersAndEndsTheSubscription() {
    Fw f = frameworkWithATask();
    h.advanceSeconds(5);
    Offer outstanding = offers(h.tick(), f.id()).get(0);
    Effects e =
        h.core.teardown(
            TeardownRequest.newBuilder().setFrameworkId(f.id()).setStreamId(f.stream()).build(),
            PRINCIPAL,
            h.now);
    assertThat(e.refusal()).isEmpty();
    assertThat(kinds(e, f.id())).containsExactly(KindCase.RESCIND, KindCase.ERROR);
    assertThat(e.events().get(0).event().getRescind().getOfferId()).isEqualTo(outstanding.getId());
    assertThat(e.events().get(1).event().getError().getMessage())
        .isEqualTo("Framework torn down by its Teardown call");
    assertThat(e.endedSubscriptions())
        .containsExactly(
            new SubscriptionEnded(f.id(), f.stream(), SubscriptionEnded.Why.TORN_DOWN));
    assertThat(e.removedFrameworks())
        .containsExactly(new FrameworkRemoved(f.id(), FrameworkRemoved.Why.TORN_DOWN));
    assertThat(commands(e, "ag1"))
        .containsExactly(
            MasterMessage.newBuilder()
                .setShutdownFramework(
                    io.kmesos.api.agent.v1.ShutdownFramework.newBuilder().setFrameworkId(f.id()))
                .build());
    // Everything on ag1 is free again, for the next framework.
    Fw g = h.subscribe(info("other", "web"));
    assertThat(offers(h.tick(), g.id()))
        .singleElement()
        .satisfies(
            o ->
                assertThat(ResourceProtos.read(o.getResourcesList()))
                    .isEqualTo(Harness.r("cpus:4;mem:1024")));
    // A call under the torn-down framework's stream is refused.
    assertThat(h.reconcile(f).refusal())
        .contains(
            new Refusal.FailedPrecondition(
                "framework 'm1-0000' was torn down; it cannot subscribe again"));
  }

  @Test
  void heartbeatsGoToSubscriptionsThatHeardNothingForAnInterval() {
    Fw f = h.subscribe(info("web", "web"));
    h.advanceSeconds(14.999);
    assertThat(h.tick().events()).isEmpty();
    h.advanceSeconds(0.001);
    assertThat(kinds(h.tick(), f.id())).containsExactly(KindCase.HEARTBEAT);
    h.advanceSeconds(10);
    h.agent("ag1", "cpus:1;mem:128");
    assertThat(kinds(h.tick(), f.id())).containsExactly(KindCase.OFFERS);
    h.advanceSeconds(14);
    assertThat(h.tick().events()).isEmpty(); // the offers were an event 14 s ago
    h.advance(Duration.ofSeconds(1));
    assertThat(kinds(h.tick(), f.id())).containsExactly(KindCase.HEARTBEAT);
  }
}
