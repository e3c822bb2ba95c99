package io.kmesos.master.core;

import io.kmesos.api.resources.ResourceProtos;
import io.kmesos.api.scheduler.v1.Event;
import io.kmesos.api.v1.Offer;
import io.kmesos.master.allocator.Allocator;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What happens with time, on each tick, in this order: frameworks whose failover timeout expired
 * are removed; offers older than the offer timeout are rescinded; the allocator allocates and its
 * offers go out, one {@code offers} event per framework (none while held after a failover);
 * subscriptions that got no event for a heartbeat interval get a heartbeat.
 *
 * <p>Guarantees: every offer made is in the offer book under a fresh ID, charged to its framework
 * in the allocator, until accepted, declined or rescinded; offers go to connected frameworks only.
 */
final class Ticker {
  /**
   * Whether offers wait after a failover: until {@link MasterConfig#agentRecoveryFactor} of the
   * agents the registry admitted re-registered, or the hold-off ended. Without this the allocator
   * would offer the resources of the first agents back while tasks it does not know yet run on them
   * and on the others (Mesos's allocator pauses the same way after a failover).
   */
  private boolean held(Instant now) {
    if (state.holdOffUntil == null) {
      return false;
    }
    if (!now.isBefore(state.holdOffUntil)
        || state.agentsBack >= state.config.agentRecoveryFactor() * state.agentsExpected) {
      state.holdOffUntil = null;
      return false;
    }
    return true;
  }

  private final MasterState state;
  private final Subscriptions subscriptions;

  Ticker(MasterState state, Subscriptions subscriptions) {
    this.state = state;
    this.subscriptions = subscriptions;
  }

  void tick(Outbox out) {
    Instant now = out.now;
    subscriptions.expireFailoverTimeouts(out);
    if (state.config.offerTimeout() != null) {
      state.dropOffers(o -> !now.isBefore(o.madeAt().plus(state.config.offerTimeout())), true, out);
    }
    allocate(out);
    for (FrameworkState framework : state.frameworks.all()) {
      if (framework.connected()
          && !now.isBefore(framework.lastEventAt.plus(state.config.heartbeatInterval()))) {
        out.send(
            framework,
            Event.newBuilder().setHeartbeat(Event.Heartbeat.getDefaultInstance()).build());
      }
    }
  }

  private void allocate(Outbox out) {
    if (held(out.now)) {
      return;
    }
    Map<String, List<Offer>> byFramework = new LinkedHashMap<>();
    for (Allocator.Offer made : state.allocator.allocate(out.now)) {
      FrameworkState framework = state.frameworks.get(made.frameworkId());
      if (framework == null || !framework.connected()) {
        state.allocator.recover(made); // cannot happen: it is deactivated while disconnected
        continue;
      }
      Offer offer =
          Offer.newBuilder()
              .setId(state.ids.offerId())
              .setFrameworkId(made.frameworkId())
              .setAgentId(made.agentId())
              .setHostname(state.agents.get(made.agentId()).hostname)
              .setAllocationRole(made.role())
              .addAllResources(ResourceProtos.write(made.resources()))
              .build();
      state.offers.add(new OfferBook.Outstanding(offer, made.resources(), out.now));
      byFramework.computeIfAbsent(made.frameworkId(), f -> new ArrayList<>()).add(offer);
    }
    for (Map.Entry<String, List<Offer>> e : byFramework.entrySet()) {
      out.send(
          state.frameworks.get(e.getKey()),
          Event.newBuilder()
              .setOffers(Event.Offers.newBuilder().addAllOffers(e.getValue()))
              .build());
    }
  }
}
