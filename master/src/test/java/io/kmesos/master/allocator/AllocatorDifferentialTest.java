package io.kmesos.master.allocator;

import static org.assertj.core.api.Assertions.assertThat;

import io.kmesos.api.resources.Resources;
import io.kmesos.master.allocator.Allocator.Config;
import io.kmesos.master.allocator.Allocator.Offer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * {@link Allocator} (lazy walks of incrementally kept orders) against {@link ReferenceAllocator} (a
 * full sort of roles and frameworks for every agent): over many random histories of agents and
 * frameworks coming, going and disconnecting, suppressions, revivals, weights, offers used,
 * recovered and declined, every allocation cycle must make exactly the same offers, in the same
 * order, and leave the same books.
 */
class AllocatorDifferentialTest {
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  private static final List<String> ROLES = List.of("*", "a", "a/b", "a/b/c", "a/d", "b", "b/x");

  @Test
  void everyCycleMakesTheSameOffersAsTheFullSort() {
    int offers = 0;
    for (long seed = 0; seed < 250; seed++) {
      offers += run(seed, 250);
    }
    assertThat(offers).as("offers made over all runs").isGreaterThan(2500);
  }

  private static Config config(Random rnd) {
    return switch (rnd.nextInt(3)) {
      case 0 -> Config.defaults();
      case 1 -> new Config(List.of(), Set.of("gpus"));
      default ->
          new Config(List.of(Resources.parse("cpus:2"), Resources.parse("mem:64")), Set.of());
    };
  }

  private static Resources agentTotal(Random rnd) {
    int port = 31000 + 10 * rnd.nextInt(5);
    return Resources.parse(
        "cpus:"
            + (1 + rnd.nextInt(8))
            + ";mem:"
            + (32 * (1 + rnd.nextInt(8)))
            + (rnd.nextBoolean() ? ";gpus:" + rnd.nextInt(3) : "")
            + ";ports:["
            + port
            + "-"
            + (port + rnd.nextInt(10))
            + "]");
  }

  /** Some of the scalars (half, all or none of each); occasionally more than there is. */
  private static Resources partOf(Resources of, Random rnd) {
    Resources out = Resources.EMPTY;
    for (String name : of.scalarNames()) {
      long have = of.thousandths(name);
      long take = rnd.nextInt(10) == 0 ? have + 1000 : rnd.nextInt(3) == 0 ? have : have / 2;
      if (take > 0) {
        out = out.plus(Resources.ofThousandths(name, take));
      }
    }
    return out;
  }

  private static Set<String> someOf(List<String> from, Random rnd, int min) {
    Set<String> out = new TreeSet<>();
    int n = min + rnd.nextInt(3);
    for (int i = 0; i < n; i++) {
      out.add(from.get(rnd.nextInt(from.size())));
    }
    return out;
  }

  /** Returns the number of offers made. */
  private static int run(long seed, int steps) {
    Random rnd = new Random(seed);
    Config config = config(rnd);
    ReferenceAllocator ref = new ReferenceAllocator(config);
    Allocator sut = new Allocator(config);
    List<String> agents = new ArrayList<>();
    List<String> frameworks = new ArrayList<>();
    List<Offer> outstanding = new ArrayList<>();
    Instant now = T0;
    int offers = 0;
    for (int step = 0; step < steps; step++) {
      String where = "seed " + seed + " step " + step;
      String agent = "agent-" + rnd.nextInt(12);
      String framework = "fw-" + rnd.nextInt(8);
      String role = ROLES.get(rnd.nextInt(ROLES.size()));
      int op = rnd.nextInt(100);
      if (op < 8) {
        Resources total = agentTotal(rnd);
        if (same(
            where,
            () -> ref.addAgent(agent, agent + ".host", total),
            () -> sut.addAgent(agent, agent + ".host", total))) {
          agents.add(agent);
        }
      } else if (op < 11) {
        if (same(where, () -> ref.removeAgent(agent), () -> sut.removeAgent(agent))) {
          agents.remove(agent);
          outstanding.removeIf(o -> o.agentId().equals(agent));
        }
      } else if (op < 14) {
        boolean active = rnd.nextBoolean();
        same(
            where,
            () -> {
              if (active) {
                ref.activateAgent(agent);
              } else {
                ref.deactivateAgent(agent);
              }
            },
            () -> {
              if (active) {
                sut.activateAgent(agent);
              } else {
                sut.deactivateAgent(agent);
              }
            });
      } else if (op < 22) {
        Set<String> roles = someOf(ROLES, rnd, 1);
        Set<String> suppressed =
            rnd.nextInt(3) == 0 ? someOf(new ArrayList<>(roles), rnd, 0) : Set.of();
        if (same(
            where,
            () -> ref.addFramework(framework, roles, suppressed),
            () -> sut.addFramework(framework, roles, suppressed))) {
          frameworks.add(framework);
        }
      } else if (op < 25) {
        if (same(
            where, () -> ref.removeFramework(framework), () -> sut.removeFramework(framework))) {
          frameworks.remove(framework);
          outstanding.removeIf(o -> o.frameworkId().equals(framework));
        }
      } else if (op < 29) {
        boolean active = rnd.nextBoolean();
        same(
            where,
            () -> {
              if (active) {
                ref.activateFramework(framework);
              } else {
                ref.deactivateFramework(framework);
              }
            },
            () -> {
              if (active) {
                sut.activateFramework(framework);
              } else {
                sut.deactivateFramework(framework);
              }
            });
      } else if (op < 35) {
        Set<String> roles = rnd.nextBoolean() ? Set.of() : someOf(ROLES, rnd, 1);
        if (rnd.nextBoolean()) {
          same(where, () -> ref.suppress(framework, roles), () -> sut.suppress(framework, roles));
        } else {
          same(where, () -> ref.revive(framework, roles), () -> sut.revive(framework, roles));
        }
      } else if (op < 40) {
        String weightOf = rnd.nextInt(10) == 0 ? "bad//role" : role;
        double weight = 0.5 * (1 + rnd.nextInt(8));
        same(
            where,
            () -> ref.updateWeight(weightOf, weight),
            () -> sut.updateWeight(weightOf, weight));
      } else if (op < 46) {
        Resources used =
            agents.contains(agent) ? partOf(ref.available(agent), rnd) : Resources.parse("cpus:1");
        same(
            where,
            () -> ref.allocated(framework, agent, role, used),
            () -> sut.allocated(framework, agent, role, used));
      } else if (op < 62 && !outstanding.isEmpty()) {
        Offer offer = outstanding.remove(rnd.nextInt(outstanding.size()));
        Resources back = rnd.nextInt(3) == 0 ? partOf(offer.resources(), rnd) : offer.resources();
        if (rnd.nextBoolean()) {
          same(
              where,
              () -> ref.recover(offer.frameworkId(), offer.agentId(), offer.role(), back),
              () -> sut.recover(offer.frameworkId(), offer.agentId(), offer.role(), back));
        } else {
          Duration refuse =
              switch (rnd.nextInt(5)) {
                case 0 -> null;
                case 1 -> Duration.ZERO;
                case 2 -> Duration.ofSeconds(-1);
                case 3 -> Duration.ofDays(400);
                default -> Duration.ofSeconds(rnd.nextInt(10));
              };
          Instant at = now;
          same(
              where,
              () ->
                  ref.decline(offer.frameworkId(), offer.agentId(), offer.role(), back, refuse, at),
              () ->
                  sut.decline(
                      offer.frameworkId(), offer.agentId(), offer.role(), back, refuse, at));
        }
      } else if (op < 68) {
        now = now.plusSeconds(rnd.nextInt(4));
      } else {
        now = now.plusSeconds(1);
        Instant at = now;
        List<Offer> expected = ref.allocate(at);
        assertThat(sut.allocate(at)).as(where + " offers").isEqualTo(expected);
        outstanding.addAll(expected);
        offers += expected.size();
      }
      assertThat(sut.roleOrder()).as(where).isEqualTo(ref.roleOrder());
      assertThat(sut.total()).as(where).isEqualTo(ref.total());
      for (String a : agents) {
        assertThat(sut.available(a)).as(where + " " + a).isEqualTo(ref.available(a));
      }
      for (String r : ROLES) {
        assertThat(sut.roleAllocation(r)).as(where + " " + r).isEqualTo(ref.roleAllocation(r));
        for (String f : frameworks) {
          if (ref.suppressedRoles(f) != null) {
            assertThat(sut.allocation(f, r))
                .as(where + " " + f + " " + r)
                .isEqualTo(ref.allocation(f, r));
          }
        }
      }
      for (String f : frameworks) {
        assertThat(sut.suppressedRoles(f)).isEqualTo(ref.suppressedRoles(f));
        assertThat(sut.isActive(f)).isEqualTo(ref.isActive(f));
      }
    }
    return offers;
  }

  /** Both succeed, or both refuse with the same message; true if they succeeded. */
  private static boolean same(String where, Runnable ref, Runnable sut) {
    String refError = errorOf(ref);
    assertThat(errorOf(sut)).as(where).isEqualTo(refError);
    return refError == null;
  }

  private static String errorOf(Runnable call) {
    try {
      call.run();
      return null;
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
  }
}
