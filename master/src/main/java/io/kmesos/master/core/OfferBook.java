package io.kmesos.master.core;

import io.kmesos.api.resources.Resources;
import io.kmesos.api.v1.Offer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * The offers outstanding (made, not yet accepted, declined or rescinded), and a bounded memory of
 * the offers that were, so an Accept can say "already used" rather than "unknown".
 *
 * <p>Guarantees: an offer ID is outstanding at most once, ever: once {@link #retire retired} it is
 * never outstanding again, so one offer serves one Accept or Decline at most. Iteration is in the
 * order the offers were made. The resources of an outstanding offer are charged to its framework in
 * the allocator; this book does not touch the allocator, its callers do.
 */
final class OfferBook {
  /** How many retired offer IDs are remembered, oldest forgotten first. */
  static final int RETIRED_MEMORY = 10_000;

  /** An outstanding offer: the proto sent, its resources as a value, and when it was made. */
  record Outstanding(Offer offer, Resources resources, Instant madeAt) {
    String id() {
      return offer.getId();
    }

    String frameworkId() {
      return offer.getFrameworkId();
    }

    String agentId() {
      return offer.getAgentId();
    }

    String role() {
      return offer.getAllocationRole();
    }
  }

  /** How an offer stopped being outstanding. */
  enum Retired {
    ACCEPTED("already used by an Accept"),
    DECLINED("already declined"),
    RESCINDED("rescinded");

    final String says;

    Retired(String says) {
      this.says = says;
    }
  }

  private final LinkedHashMap<String, Outstanding> outstanding = new LinkedHashMap<>();
  private final LinkedHashMap<String, Retired> retired =
      new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Retired> eldest) {
          return size() > RETIRED_MEMORY;
        }
      };

  void add(Outstanding offer) {
    if (outstanding.containsKey(offer.id()) || retired.containsKey(offer.id())) {
      throw new IllegalStateException("offer ID '" + offer.id() + "' was handed out twice");
    }
    outstanding.put(offer.id(), offer);
  }

  Outstanding get(String offerId) {
    return outstanding.get(offerId);
  }

  /** How a recently outstanding offer ended, or null (never made here, or long forgotten). */
  Retired retiredAs(String offerId) {
    return retired.get(offerId);
  }

  /** Takes the offer out of the outstanding ones; returns it (null if it was not). */
  Outstanding retire(String offerId, Retired how) {
    Outstanding offer = outstanding.remove(offerId);
    if (offer != null) {
      retired.put(offerId, how);
    }
    return offer;
  }

  /** The outstanding offers that match, in the order they were made. */
  List<Outstanding> matching(Predicate<Outstanding> p) {
    List<Outstanding> list = new ArrayList<>();
    for (Outstanding o : outstanding.values()) {
      if (p.test(o)) {
        list.add(o);
      }
    }
    return list;
  }

  /** The outstanding offers per framework ID, for the operator's view. */
  TreeMap<String, List<Offer>> byFramework() {
    TreeMap<String, List<Offer>> map = new TreeMap<>();
    for (Outstanding o : outstanding.values()) {
      map.computeIfAbsent(o.frameworkId(), f -> new ArrayList<>()).add(o.offer());
    }
    return map;
  }
}
