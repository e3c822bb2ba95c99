package io.kmesos.master.core;

import static io.kmesos.master.core.Harness.info;
import static io.kmesos.master.core.Harness.kinds;
import static io.kmesos.master.core.Harness.offers;
import static org.assertj.core.api.Assertions.assertThat;

import io.kmesos.api.scheduler.v1.Event.KindCase;
import io.kmesos.api.v1.Offer;
import io.kmesos.master.core.Harness.Fw;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Offers not answered within the offer timeout are rescinded, and offered again. */
class OfferTimeoutTest {
  final Harness h =
      new Harness(MasterConfig.defaults(Harness.MASTER).withOfferTimeout(Duration.ofSeconds(30)));

  @Test
  void anUnansweredOfferIsRescindedAtItsTimeoutAndOfferedAgain() {
    Fw f = h.subscribe(info("f", "web"));
    h.agent("ag1", "cpus:1;mem:128");
    Offer offer = offers(h.tick(), f.id()).get(0);
    h.advanceSeconds(29.999);
    assertThat(kinds(h.tick(), f.id())).containsExactly(KindCase.HEARTBEAT); // not rescinded
    h.advanceSeconds(0.001);
    Effects e = h.tick();
    // Rescinded (without a refusal filter), then offered anew under a new ID in the same tick.
    assertThat(kinds(e, f.id())).containsExactly(KindCase.RESCIND, KindCase.OFFERS);
    assertThat(e.events().get(0).event().getRescind().getOfferId()).isEqualTo(offer.getId());
    assertThat(offers(e, f.id()))
        .singleElement()
        .satisfies(
            o -> {
              assertThat(o.getId()).isNotEqualTo(offer.getId());
              assertThat(o.getResourcesList()).isEqualTo(offer.getResourcesList());
            });
    assertThat(h.accept(f, offer).refusal().get().message())
        .isEqualTo("offer '" + offer.getId() + "' is rescinded");
  }

  @Test
  void withoutATimeoutOffersStay() {
    Harness never = new Harness();
    Fw f = never.subscribe(info("f", "web"));
    never.agent("ag1", "cpus:1;mem:128");
    offers(never.tick(), f.id());
    never.advance(Duration.ofDays(1));
    assertThat(kinds(never.tick(), f.id())).containsExactly(KindCase.HEARTBEAT);
    assertThat(never.core.state().getOffersList()).hasSize(1);
  }
}
