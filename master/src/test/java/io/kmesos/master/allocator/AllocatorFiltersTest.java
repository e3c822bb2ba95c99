package io.kmesos.master.allocator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import io.kmesos.api.resources.Resources;
import io.kmesos.master.allocator.Allocator.Offer;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Refusal filters (decline), suppress and revive. Time is only ever the {@code now} passed in. */
class AllocatorFiltersTest {
  static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  static final String AGENT = "cpus:4;mem:1024";
  static final Duration HOUR = Duration.ofHours(1);

  static Resources r(String text) {
    return Resources.parse(text);
  }

  static Instant at(double seconds) {
    return T0.plusMillis(Math.round(seconds * 1000));
  }

  final Allocator allocator = new Allocator();

  void agents(String... ids) {
    for (String id : ids) {
      allocator.addAgent(id, id, r(AGENT));
    }
  }

  @Test
  void declinedResourcesAreNotOfferedAgainUntilTheRefusalExpires() {
    agents("ag1");
    allocator.addFramework("f", Set.of("web"), Set.of());
    Offer offer = allocator.allocate(T0).get(0);
    allocator.decline(offer, Duration.ofSeconds(10), T0);
    assertThat(allocator.available("ag1")).isEqualTo(r(AGENT)); // recovered, only filtered
    assertThat(allocator.allocate(at(1))).isEmpty();
    assertThat(allocator.allocate(at(9.999))).isEmpty();
    assertThat(allocator.allocate(at(10))).containsExactly(offer);
  }

  @Test
  void aRefusalIsForOneFrameworkRoleAndAgent() {
    agents("ag1");
    allocator.addFramework("f1", Set.of("web", "batch"), Set.of());
    allocator.addFramework("f2", Set.of("web"), Set.of());
    assertThat(allocator.allocate(T0))
        .extracting(Offer::frameworkId, Offer::agentId, Offer::role)
        .containsExactly(tuple("f1", "ag1", "batch"));
    allocator.decline("f1", "ag1", "batch", r(AGENT), HOUR, T0);

    // Another role: web (never allocated) comes before batch now, f1 before f2 by name, and f1
    // refused ag1 only in batch.
    assertThat(allocator.allocate(at(1)))
        .extracting(Offer::frameworkId, Offer::agentId, Offer::role)
        .containsExactly(tuple("f1", "ag1", "web"));
    allocator.decline("f1", "ag1", "web", r(AGENT), HOUR, at(1));

    // Another framework: f2 is not filtered. It gives the offer back without a refusal.
    assertThat(allocator.allocate(at(2)))
        .extracting(Offer::frameworkId, Offer::agentId, Offer::role)
        .containsExactly(tuple("f2", "ag1", "web"));
    allocator.decline("f2", "ag1", "web", r(AGENT), Duration.ZERO, at(2));

    // f1 and f2 are equal in web now and f1 comes first by name, but it is still filtered.
    assertThat(allocator.allocate(at(3)))
        .extracting(Offer::frameworkId, Offer::agentId, Offer::role)
        .containsExactly(tuple("f2", "ag1", "web"));

    // Another agent: f1 refused only ag1.
    agents("ag2");
    assertThat(allocator.allocate(at(4)))
        .extracting(Offer::frameworkId, Offer::agentId, Offer::role)
        .containsExactly(tuple("f1", "ag2", "batch"));
  }

  @Test
  void moreThanWasDeclinedLiftsTheRefusal() {
    agents("ag1");
    allocator.addFramework("f", Set.of("web"), Set.of());
    allocator.allocate(T0);
    // The framework runs a task with part of the offer and declines the rest for an hour.
    allocator.decline("f", "ag1", "web", r("cpus:3;mem:768"), HOUR, T0);
    // What is free is what was declined: filtered (Mesos: the refused resources contain it).
    assertThat(allocator.allocate(at(1))).isEmpty();
    // The task ends: more than was declined is free, and it is offered.
    allocator.recover("f", "ag1", "web", r("cpus:1;mem:256"));
    assertThat(allocator.allocate(at(3))).containsExactly(new Offer("f", "ag1", "web", r(AGENT)));
  }

  @Test
  void aZeroRefusalInstallsNoFilter() {
    agents("ag1");
    allocator.addFramework("f", Set.of("web"), Set.of());
    Offer offer = allocator.allocate(T0).get(0);
    allocator.decline(offer, Duration.ZERO, T0);
    assertThat(allocator.allocate(T0)).containsExactly(offer);
  }

  @Test
  void aNegativeOrMissingRefusalIsTheDefaultFiveSeconds() {
    agents("ag1");
    allocator.addFramework("f", Set.of("web"), Set.of());
    Offer offer = allocator.allocate(T0).get(0);
    allocator.decline(offer, Duration.ofSeconds(-3), T0);
    assertThat(allocator.allocate(at(4.999))).isEmpty();
    assertThat(allocator.allocate(at(5))).containsExactly(offer);
    allocator.decline(offer, null, at(5));
    assertThat(allocator.allocate(at(9.999))).isEmpty();
    assertThat(allocator.allocate(at(10))).containsExactly(offer);
  }

  @Test
  void aRefusalLastsAtMostAYear() {
    agents("ag1");
    allocator.addFramework("f", Set.of("web"), Set.of());
    Offer offer = allocator.allocate(T0).get(0);
    allocator.decline(offer, Duration.ofDays(10_000), T0);
    assertThat(allocator.allocate(T0.plus(Duration.ofDays(365)).minusMillis(1))).isEmpty();
    assertThat(allocator.allocate(T0.plus(Duration.ofDays(365)))).containsExactly(offer);
  }

  @Test
  void reviveClearsRefusals() {
    agents("ag1", "ag2");
    allocator.addFramework("f", Set.of("web"), Set.of());
    for (Offer offer : allocator.allocate(T0)) {
      allocator.decline(offer, HOUR, T0);
    }
    assertThat(allocator.allocate(at(1))).isEmpty();
    allocator.revive("f");
    assertThat(allocator.allocate(at(2))).hasSize(2);
  }

  @Test
  void reviveOfSomeRolesClearsOnlyTheirRefusals() {
    agents("ag1", "ag2");
    allocator.addFramework("f", Set.of("x", "y"), Set.of());
    for (Offer offer : allocator.allocate(T0)) {
      allocator.decline(offer, HOUR, T0); // ag1 in x, ag2 in y
    }
    allocator.revive("f", Set.of("y"));
    // ag1: x first by name but refused there, y takes it; ag2: x is behind y now, and x refused
    // only ag1.
    assertThat(allocator.allocate(at(1)))
        .extracting(Offer::agentId, Offer::role)
        .containsExactly(tuple("ag1", "y"), tuple("ag2", "x"));
  }

  @Test
  void aSuppressedFrameworkGetsNoOffersUntilRevived() {
    agents("ag1", "ag2");
    allocator.addFramework("f1", Set.of("web"), Set.of());
    allocator.addFramework("f2", Set.of("web"), Set.of());
    allocator.suppress("f1", Set.of());
    assertThat(allocator.suppressedRoles("f1")).containsExactly("web");
    assertThat(allocator.allocate(T0)).extracting(Offer::frameworkId).containsExactly("f2", "f2");
    agents("ag3");
    allocator.revive("f1");
    assertThat(allocator.suppressedRoles("f1")).isEmpty();
    assertThat(allocator.allocate(T0)).extracting(Offer::frameworkId).containsExactly("f1");
  }

  @Test
  void suppressingOneRoleLeavesTheOthers() {
    agents("ag1", "ag2");
    allocator.addFramework("f", Set.of("x", "y"), Set.of());
    allocator.suppress("f", Set.of("x"));
    assertThat(allocator.allocate(T0)).extracting(Offer::role).containsExactly("y", "y");
  }

  @Test
  void aFrameworkMaySubscribeSuppressed() {
    agents("ag1");
    allocator.addFramework("f", Set.of("x", "y"), Set.of("x", "y"));
    assertThat(allocator.allocate(T0)).isEmpty();
    assertThat(allocator.roleOrder()).containsExactly("x", "y"); // the roles still exist
    allocator.revive("f", Set.of("y"));
    assertThat(allocator.allocate(T0)).extracting(Offer::role).containsExactly("y");
  }

  @Test
  void reviveAfterSuppressClearsRefusalsToo() {
    agents("ag1");
    allocator.addFramework("f", Set.of("web"), Set.of());
    allocator.decline(allocator.allocate(T0).get(0), HOUR, T0);
    allocator.suppress("f", Set.of("web"));
    allocator.revive("f", Set.of("web"));
    assertThat(allocator.allocate(at(1))).hasSize(1);
  }

  @Test
  void aDeclineForAFrameworkOrAgentThatIsGoneIsIgnored() {
    agents("ag1");
    allocator.addFramework("f", Set.of("web"), Set.of());
    Offer offer = allocator.allocate(T0).get(0);
    allocator.removeAgent("ag1");
    allocator.decline(offer, HOUR, T0);
    agents("ag1");
    assertThat(allocator.allocate(at(1))).containsExactly(offer);
    allocator.removeFramework("f");
    allocator.decline(offer, HOUR, at(1));
    assertThat(allocator.available("ag1")).isEqualTo(r(AGENT));
  }
}
