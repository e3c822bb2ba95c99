package io.kmesos.master.core;

import com.google.protobuf.util.Durations;
import io.kmesos.api.registry.v1.Framework;
import io.kmesos.api.scheduler.v1.Event;
import io.kmesos.api.scheduler.v1.SubscribeRequest;
import io.kmesos.api.v1.FrameworkInfo;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
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
 *
 * <p>The registry holds every framework from before it learns its ID until it is removed ({@link
 * FrameworkRecord}): a master that recovered them ({@link #recover}) refuses IDs it does not know,
 * since they were removed (or never existed), and gives each recovered framework its failover
 * timeout, counted from when its subscription ended, but at least {@link
 * MasterConfig#recoveredFrameworkGrace()} from the recovery.
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
      if (state.frameworksFromRegistry) {
        out.refuse(
            new Refusal.FailedPrecondition(
                "framework '"
                    + id
                    + "' is not registered: it was removed (torn down, or its failover timeout"
                    + " expired) or never existed; subscribe without an ID to register anew"));
        return;
      }
    } else {
      id = state.ids.frameworkId();
    }
    // A new framework, or (without the registry's frameworks) one this master does not know yet.
    FrameworkState framework =
        new FrameworkState(info.toBuilder().setId(id).setPrincipal(principal).build());
    state.frameworks.add(framework);
    state.allocator.addFramework(id, framework.roles(), suppressed);
    framework.registeredAt = out.now;
    state.record(framework, null, out);
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
    state.record(framework, null, out);
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
      state.record(framework, out.now, out);
    }
  }

  /**
   * The registry's frameworks, as a master that just recovered it finds them: disconnected, each
   * with its failover timeout running from when its subscription ended ({@code disconnected_at};
   * now for one that was subscribed when the previous master stopped, which is recorded), but
   * ending no sooner than the grace after now: no framework can subscribe while no master leads.
   */
  void recover(List<Framework> records, Outbox out) {
    if (state.frameworksFromRegistry) {
      throw new IllegalStateException("the registry's frameworks were already recovered");
    }
    if (!state.frameworks.all().isEmpty() || !state.agents.all().isEmpty()) {
      throw new IllegalStateException(
          "the registry's frameworks are recovered before any framework or agent is known");
    }
    List<Framework> sorted = new ArrayList<>(records);
    sorted.sort(Comparator.comparing(r -> r.getInfo().getId()));
    Set<String> seen = new HashSet<>();
    for (Framework r : sorted) {
      String id = r.getInfo().getId();
      String problem =
          id.isEmpty()
              ? "it has no ID"
              : !seen.add(id)
                  ? "it is listed twice"
                  : FrameworkInfoCheck.problem(r.getInfo(), List.of());
      if (problem != null) {
        throw new IllegalArgumentException(
            "the registry's framework '"
                + id
                + "' cannot be recovered: "
                + problem
                + " (remove it with kmesos-registry apply)");
      }
    }
    Instant floor = out.now.plus(state.config.recoveredFrameworkGrace());
    for (Framework r : sorted) {
      FrameworkState framework = new FrameworkState(r.getInfo());
      framework.recovered = true;
      framework.record = r;
      state.frameworks.add(framework);
      state.allocator.addFramework(framework.id, framework.roles(), Set.of());
      state.allocator.deactivateFramework(framework.id);
      Instant since =
          r.hasDisconnectedAt()
              ? Instant.ofEpochSecond(
                  r.getDisconnectedAt().getSeconds(), r.getDisconnectedAt().getNanos())
              : out.now;
      Instant deadline = since.plus(framework.failoverTimeout());
      framework.failoverDeadline = deadline.isBefore(floor) ? floor : deadline;
      // Its subscription ended with the previous master: recorded, so that a later master does
      // not count its timeout from scratch again.
      state.record(framework, since, out);
    }
    state.frameworksFromRegistry = true;
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
