package io.kmesos.master.core;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Whether the offers an Accept names may be used together, as Mesos's offer validation and the
 * AcceptRequest comment say: at least one, none named twice, each outstanding and made to this
 * framework, all of one agent and one allocation role.
 *
 * <p>Guarantees: the result lists every offending offer ID, with one message naming each and why;
 * and, valid or not, the outstanding offers of this framework the call named (each once), which the
 * call uses or gives back. Another framework's offer is never among them: a call cannot touch it.
 */
final class OfferCheck {
  /**
   * @param valid whether the operations may be applied to the offers
   * @param own the named offers that are outstanding and this framework's, in the call's order
   * @param offending the IDs that make the call invalid, in the call's order
   * @param message one line naming each offending offer and why; empty when valid
   */
  record Result(
      boolean valid, List<OfferBook.Outstanding> own, List<String> offending, String message) {}

  private OfferCheck() {}

  static Result check(List<String> offerIds, String frameworkId, OfferBook offers) {
    if (offerIds.isEmpty()) {
      return new Result(false, List.of(), List.of(), "an Accept must name at least one offer");
    }
    List<OfferBook.Outstanding> own = new ArrayList<>();
    Set<String> offending = new LinkedHashSet<>();
    List<String> why = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    OfferBook.Outstanding first = null;
    for (String id : offerIds) {
      if (!seen.add(id)) {
        offending.add(id);
        why.add("offer '" + id + "' is named twice");
        continue;
      }
      OfferBook.Outstanding offer = offers.get(id);
      if (offer == null) {
        OfferBook.Retired retired = offers.retiredAs(id);
        offending.add(id);
        why.add("offer '" + id + "' is " + (retired == null ? "unknown" : retired.says));
        continue;
      }
      if (!offer.frameworkId().equals(frameworkId)) {
        offending.add(id);
        why.add("offer '" + id + "' is not an offer to framework '" + frameworkId + "'");
        continue;
      }
      own.add(offer);
      if (first == null) {
        first = offer;
      } else if (!offer.agentId().equals(first.agentId())) {
        offending.add(id);
        why.add(
            "offer '"
                + id
                + "' is of agent '"
                + offer.agentId()
                + "', offer '"
                + first.id()
                + "' of agent '"
                + first.agentId()
                + "'");
      } else if (!offer.role().equals(first.role())) {
        offending.add(id);
        why.add(
            "offer '"
                + id
                + "' is for role '"
                + offer.role()
                + "', offer '"
                + first.id()
                + "' for role '"
                + first.role()
                + "'");
      }
    }
    return new Result(
        offending.isEmpty(), List.copyOf(own), List.copyOf(offending), String.join("; ", why));
  }
}
