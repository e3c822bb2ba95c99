package io.kmesos.master.core;

import com.google.protobuf.util.Durations;
import io.kmesos.api.scheduler.v1.Event;
import io.kmesos.api.scheduler.v1.SubscribeRequest;
import io.kmesos.api.v1.FrameworkInfo;
import java.util.List;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * The frameworks' life: subscribe and resubscribe, a subscription that ends, suppress and revive,
 * teardown, and the failover timeout.
 *
 * <p>Guarantees: a framework has at most one subscription; a new one ends the previous (an error
 * event, then {@link SubscriptionEnded.Why#SUPERSEDED}) and the framework keeps its tasks, while
 * its outstanding offers are withdrawn (the new subscription never saw them; they are offered
 * anew). A framework whose subscription ended gets no offers until it subscribes again, and is
 * removed (its tasks killed) when its failover timeout expires; a timeout of zero removes it at
 * once. A removed framework's ID is refused for good.
 */
final class Subscriptions {
  private final MasterState state;

  Subscriptions(MasterState state) {
    this.state = state;
  }

  void subscribe(SubscribeRequest request, String principal, Outbox out) {
    FrameworkInfo info = request.getFrameworkInfo();
    String problem = FrameworkInfoCheck.problem(info, request.getSuppressedRolesList());
    if (problem != null) {
      out.refuse(new Refusal.InvalidArgument(problem));
      return;
    }
    Set<String> suppressed = new TreeSet<>(request.getSuppressedRolesList());
    String id = info.getId();
    if (!id.isEmpty()) {
      if (state.frameworks.isRemoved(id)) {
        out.refuse(
            new Refusal.FailedPrecondition(
                "framework '" + id + "' was torn down; it cannot subscribe again"));
        return;
      }
      FrameworkState known = state.frameworks.get(id);
      if (known != null) {
        resubscribe(known, info, principal, suppressed, out);
        return;
      }
    } else {
      id = state.ids.frameworkId();
    }
    // A new framework, or one this master does not know yet (it failed over), as Mesos accepts.
    FrameworkState framework =
        new FrameworkState(info.toBuilder().setId(id).setPrincipal(principal).build());
    state.frameworks.add(framework);
    state.allocator.addFramework(id, framework.roles(), suppressed);
    framework.registeredAt = out.now;
    open(framework, out);
  }

  private void resubscribe(
      FrameworkState framework,
      FrameworkInfo info,
      String principal,
      Set<String> suppressed,
      Outbox out) {
    String registeredBy = framework.info.getPrincipal();
    if (!registeredBy.equals(principal)) {
      out.refuse(
          new Refusal.PermissionDenied(
              "principal '"
                  + principal
                  + "' may not subscribe as framework '"
                  + framework.id
                  + "', registered by '"
                  + registeredBy
                  + "'"));
      return;
    }
    SortedSet<String> roles = FrameworkState.rolesOf(info);
    if (!roles.equals(framework.roles())) {
      out.refuse(
          new Refusal.InvalidArgument(
              "framework '"
                  + framework.id
                  + "' is in roles "
                  + framework.roles()
                  + ", not "
                  + roles
                  + ": changing roles on subscription is not supported yet"));
      return;
    }
    out.endSubscription(
        framework,
        SubscriptionEnded.Why.SUPERSEDED,
        "Framework failed over: a new subscription of framework '" + framework.id + "' took over");
    state.dropOffers(o -> o.frameworkId().equals(framework.id), false, out);
    framework.info = info.toBuilder().setPrincipal(principal).build();
    framework.failoverDeadline = null;
    if (framework.recovered) {
      framework.recovered = false;
      framework.registeredAt = out.now;
    }
    SortedSet<String> nowSuppressed = state.allocator.suppressedRoles(framework.id);
    for (String role : roles) {
      if (suppressed.contains(role) && !nowSuppressed.contains(role)) {
        state.allocator.suppress(framework.id, Set.of(role));
      } else if (!suppressed.contains(role) && nowSuppressed.contains(role)) {
        state.allocator.revive(framework.id, Set.of(role));
      }
    }
    state.allocator.activateFramework(framework.id);
    open(framework, out);
  }

  private void open(FrameworkState framework, Outbox out) {
    state.frameworks.subscribe(framework, state.ids.streamId());
    out.send(
        framework,
        Event.newBuilder()
            .setSubscribed(
                Event.Subscribed.newBuilder()
                    .setFrameworkId(framework.id)
                    .setStreamId(framework.streamId)
                    .setHeartbeatInterval(
                        Durations.fromNanos(state.config.heartbeatInterval().toNanos()))
                    .setMasterInfo(state.config.masterInfo()))
            .build());
  }

  /** The subscription {@code streamId} of the framework ended (its stream broke or closed). */
  void disconnected(String frameworkId, String streamId, Outbox out) {
    FrameworkState framework = state.frameworks.get(frameworkId);
    if (framework == null || !streamId.equals(framework.streamId)) {
      return; // an old subscription: the current one is unaffected
    }
    framework.streamId = null;
    state.dropOffers(o -> o.frameworkId().equals(frameworkId), false, out);
    state.allocator.deactivateFramework(frameworkId);
    if (framework.failoverTimeout().isZero()) {
      state.removeFramework(
          framework,
          FrameworkRemoved.Why.FAILOVER_TIMEOUT_EXPIRED,
          "failover timeout expired",
          out);
    } else {
      framework.failoverDeadline = out.now.plus(framework.failoverTimeout());
    }
  }

  /** Removes every framework whose failover timeout expired by now. */
  void expireFailoverTimeouts(Outbox out) {
    for (FrameworkState framework : state.frameworks.snapshot()) {
      if (framework.failoverDeadline != null && !out.now.isBefore(framework.failoverDeadline)) {
        state.removeFramework(
            framework,
            FrameworkRemoved.Why.FAILOVER_TIMEOUT_EXPIRED,
            "failover timeout expired",
            out);
      }
    }
  }

  void teardown(FrameworkState framework, Outbox out) {
    state.removeFramework(
        framework, FrameworkRemoved.Why.TORN_DOWN, "Framework torn down by its Teardown call", out);
  }

  void suppress(FrameworkState framework, List<String> roles, Outbox out) {
    if (checkRoles(framework, roles, out)) {
      state.allocator.suppress(framework.id, new TreeSet<>(roles));
    }
  }

  void revive(FrameworkState framework, List<String> roles, Outbox out) {
    if (checkRoles(framework, roles, out)) {
      state.allocator.revive(framework.id, new TreeSet<>(roles));
    }
  }

  private static boolean checkRoles(FrameworkState framework, List<String> roles, Outbox out) {
    for (String role : roles) {
      if (!framework.roles().contains(role)) {
        out.refuse(
            new Refusal.InvalidArgument(
                "framework '" + framework.id + "' is not in role '" + role + "'"));
        return false;
      }
    }
    return true;
  }
}
