package io.kmesos.master.allocator;

import static org.assertj.core.api.Assertions.assertThat;

import io.kmesos.api.resources.Resources;
import io.kmesos.master.allocator.Allocator.Offer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The allocator over many allocation cycles with frameworks that answer every offer: shares follow
 * the weights, and the same calls always give the same offers. Cycles are counted, never timed.
 */
class AllocatorRunTest {
  static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  static final Duration INTERVAL = Duration.ofSeconds(1);

  static Resources r(String text) {
    return Resources.parse(text);
  }

  /** A task a framework launched from an offer: it holds its resources until {@code endCycle}. */
  record Task(String frameworkId, String agentId, String role, Resources resources, int endCycle) {}

  /**
   * A framework that, for each offer, launches one task of {@code task} if it fits (for 5 to 9
   * cycles, varying deterministically) and declines the rest.
   */
  static final class Framework {
    final String id;
    final Resources task;
    final Duration refuse;
    int launched;

    Framework(String id, Resources task, Duration refuse) {
      this.id = id;
      this.task = task;
      this.refuse = refuse;
    }
  }

  /** Runs {@code cycles} cycles; returns the cpus each role held after each cycle (in 1/1000). */
  static long[][] run(
      Allocator allocator, List<Framework> frameworks, List<String> roles, int cycles) {
    List<Task> running = new ArrayList<>();
    long[][] held = new long[cycles][roles.size()];
    for (int cycle = 0; cycle < cycles; cycle++) {
      Instant now = T0.plus(INTERVAL.multipliedBy(cycle));
      for (Iterator<Task> it = running.iterator(); it.hasNext(); ) {
        Task t = it.next();
        if (t.endCycle() == cycle) {
          allocator.recover(t.frameworkId(), t.agentId(), t.role(), t.resources());
          it.remove();
        }
      }
      for (Offer offer : allocator.allocate(now)) {
        Framework f =
            frameworks.stream().filter(x -> x.id.equals(offer.frameworkId())).findFirst().get();
        Resources rest = offer.resources();
        if (rest.contains(f.task)) {
          running.add(
              new Task(f.id, offer.agentId(), offer.role(), f.task, cycle + 5 + f.launched % 5));
          f.launched++;
          rest = rest.minus(f.task);
        }
        allocator.decline(f.id, offer.agentId(), offer.role(), rest, f.refuse, now);
      }
      for (int i = 0; i < roles.size(); i++) {
        held[cycle][i] = allocator.roleAllocation(roles.get(i)).thousandths("cpus");
      }
    }
    return held;
  }

  @Test
  void offersFollowWeightedDrfOverARun() {
    Allocator allocator = new Allocator();
    for (int i = 0; i < 40; i++) {
      allocator.addAgent(String.format("ag%02d", i), "host" + i, r("cpus:4;mem:8192;disk:1000"));
    }
    allocator.updateWeight("light", 1);
    allocator.updateWeight("heavy", 3);
    allocator.addFramework("fl", Set.of("light"), Set.of());
    allocator.addFramework("fh", Set.of("heavy"), Set.of());
    Resources task = r("cpus:1;mem:512");
    List<Framework> frameworks =
        List.of(new Framework("fl", task, Duration.ZERO), new Framework("fh", task, Duration.ZERO));

    int cycles = 400;
    int start = cycles / 4;
    int window = 20;
    long[][] held = run(allocator, frameworks, List.of("light", "heavy"), cycles);

    // Both frameworks always want more: after the start, the cluster (160 cpus) runs nearly full.
    long light = 0;
    long heavy = 0;
    for (int cycle = start; cycle < cycles; cycle++) {
      light += held[cycle][0];
      heavy += held[cycle][1];
      assertThat(held[cycle][0] + held[cycle][1]).as("cycle %d", cycle).isGreaterThan(140_000);
    }
    // What each role holds, over the run after the start, is in the weights' proportion, 1:3 ...
    assertThat((double) heavy / light).as("heavy/light cpus over the run").isBetween(2.8, 3.2);
    // ... and so is it over every stretch of 20 cycles. Single cycles swing more: an offer is a
    // whole agent's free resources and counts against its role until the framework answers, though
    // the framework launches one task and declines the rest.
    for (int from = start; from + window <= cycles; from++) {
      long l = 0;
      long h = 0;
      for (int cycle = from; cycle < from + window; cycle++) {
        l += held[cycle][0];
        h += held[cycle][1];
      }
      assertThat((double) h / l).as("cycles %d to %d", from, from + window).isBetween(2.6, 3.4);
    }
  }

  @Test
  void equalWeightsShareEquallyAndHierarchicalWeightsCompound() {
    Allocator allocator = new Allocator();
    for (int i = 0; i < 40; i++) {
      allocator.addAgent(String.format("ag%02d", i), "host" + i, r("cpus:4;mem:8192"));
    }
    // eng (weight 2) against ops (1); inside eng, eng/a and eng/b equal: 1:1:1 over a:b:ops.
    allocator.updateWeight("eng", 2);
    allocator.addFramework("fa", Set.of("eng/a"), Set.of());
    allocator.addFramework("fb", Set.of("eng/b"), Set.of());
    allocator.addFramework("fo", Set.of("ops"), Set.of());
    Resources task = r("cpus:1;mem:512");
    List<Framework> frameworks =
        List.of(
            new Framework("fa", task, Duration.ZERO),
            new Framework("fb", task, Duration.ZERO),
            new Framework("fo", task, Duration.ZERO));
    int cycles = 400;
    long[][] held = run(allocator, frameworks, List.of("eng/a", "eng/b", "ops"), cycles);
    long[] sums = new long[3];
    for (int cycle = cycles / 4; cycle < cycles; cycle++) {
      for (int i = 0; i < 3; i++) {
        sums[i] += held[cycle][i];
      }
    }
    assertThat((double) sums[0] / sums[2]).isBetween(0.9, 1.1);
    assertThat((double) sums[1] / sums[2]).isBetween(0.9, 1.1);
  }

  /** A scripted scenario from a seed: agents and frameworks come and go, offers are answered. */
  static List<Offer> scenario(long seed) {
    Random rnd = new Random(seed);
    Allocator allocator = new Allocator();
    List<Offer> all = new ArrayList<>();
    List<Offer> outstanding = new ArrayList<>();
    List<String> roles = List.of("a", "b", "c/d", "c/e");
    Map<String, Resources> agentTotals = new TreeMap<>();
    Map<String, Set<String>> frameworkRoles = new TreeMap<>();
    for (int step = 0; step < 300; step++) {
      Instant now = T0.plusMillis(step * 250L);
      switch (rnd.nextInt(8)) {
        case 0 -> {
          String id = "ag" + rnd.nextInt(12);
          Resources total =
              r(
                  "cpus:"
                      + (1 + rnd.nextInt(8))
                      + ";mem:"
                      + 1024 * (1 + rnd.nextInt(8))
                      + ";ports:[31000-31009]");
          if (agentTotals.containsKey(id)) {
            allocator.removeAgent(id);
            agentTotals.remove(id);
            // What was offered on it is void: the master answers none of those offers.
            outstanding.removeIf(o -> o.agentId().equals(id));
          } else {
            allocator.addAgent(id, id, total);
            agentTotals.put(id, total);
          }
        }
        case 1 -> {
          String id = "f" + rnd.nextInt(6);
          Set<String> rs =
              new TreeSet<>(List.of(roles.get(rnd.nextInt(4)), roles.get(rnd.nextInt(4))));
          if (frameworkRoles.containsKey(id)) {
            allocator.removeFramework(id);
            frameworkRoles.remove(id);
            outstanding.removeIf(o -> o.frameworkId().equals(id));
          } else {
            allocator.addFramework(id, rs, Set.of());
            frameworkRoles.put(id, rs);
          }
        }
        case 2 -> allocator.updateWeight(roles.get(rnd.nextInt(4)), 0.5 + rnd.nextInt(4));
        case 3 -> {
          String id = "f" + rnd.nextInt(6);
          try {
            if (rnd.nextBoolean()) {
              allocator.suppress(id, Set.of());
            } else {
              allocator.revive(id);
            }
          } catch (IllegalArgumentException noSuchFramework) {
            // fine
          }
        }
        default -> {
          List<Offer> offers = allocator.allocate(now);
          all.addAll(offers);
          outstanding.addAll(offers);
          // Answer some outstanding offers: decline with a refusal, give back, or keep part.
          for (Iterator<Offer> it = outstanding.iterator(); it.hasNext(); ) {
            Offer o = it.next();
            switch (rnd.nextInt(4)) {
              case 0 -> allocator.decline(o, Duration.ofMillis(rnd.nextInt(3000)), now);
              case 1 -> allocator.recover(o);
              case 2 -> {
                Resources keep = r("cpus:0.5");
                if (o.resources().contains(keep)) {
                  allocator.recover(
                      o.frameworkId(), o.agentId(), o.role(), o.resources().minus(keep));
                } else {
                  allocator.recover(o);
                }
              }
              default -> {
                continue; // keep it outstanding
              }
            }
            it.remove();
          }
        }
      }
      checkBooks(allocator, agentTotals, frameworkRoles, "seed " + seed + " step " + step);
    }
    return all;
  }

  /**
   * Nothing is offered twice: on every agent, what is free and what every framework holds add up to
   * exactly its total; and each role's share is computed from what its frameworks hold.
   */
  static void checkBooks(
      Allocator allocator,
      Map<String, Resources> agentTotals,
      Map<String, Set<String>> frameworkRoles,
      String at) {
    Map<String, Resources> byRole = new TreeMap<>();
    for (Map.Entry<String, Resources> agent : agentTotals.entrySet()) {
      Resources sum = allocator.available(agent.getKey());
      for (Map.Entry<String, Set<String>> f : frameworkRoles.entrySet()) {
        for (String role : f.getValue()) {
          Resources held = allocator.allocation(f.getKey(), role).get(agent.getKey());
          if (held != null) {
            sum = sum.plus(held);
            byRole.merge(role, held.scalarsOnly(), Resources::plus);
          }
        }
      }
      assertThat(sum).as(at + " agent " + agent.getKey()).isEqualTo(agent.getValue());
    }
    for (Set<String> rs : frameworkRoles.values()) {
      for (String role : rs) {
        assertThat(allocator.roleAllocation(role))
            .as(at + " role " + role)
            .isEqualTo(byRole.getOrDefault(role, Resources.EMPTY));
      }
    }
  }

  @Test
  void theSameCallsGiveTheSameOffers() {
    for (long seed = 0; seed < 20; seed++) {
      List<Offer> first = scenario(seed);
      assertThat(first).as("seed %d makes offers", seed).hasSizeGreaterThan(50);
      assertThat(scenario(seed)).as("seed %d", seed).isEqualTo(first);
    }
  }

  @Test
  void offersDoNotDependOnTheOrderAgentsAndFrameworksJoined() {
    List<String> agents = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      agents.add("ag" + i);
    }
    List<List<Offer>> results = new ArrayList<>();
    for (long seed = 0; seed < 5; seed++) {
      List<String> order = new ArrayList<>(agents);
      Collections.shuffle(order, new Random(seed));
      Allocator allocator = new Allocator();
      for (String id : order) {
        allocator.addAgent(id, id, r("cpus:" + (2 + id.hashCode() % 3) + ";mem:4096"));
      }
      List<String> frameworks = new ArrayList<>(List.of("f1", "f2", "f3"));
      Collections.shuffle(frameworks, new Random(seed));
      for (String f : frameworks) {
        allocator.addFramework(f, Set.of(f.equals("f3") ? "y" : "x"), Set.of());
      }
      allocator.updateWeight("y", 2);
      results.add(allocator.allocate(T0));
    }
    assertThat(results).allSatisfy(offers -> assertThat(offers).isEqualTo(results.get(0)));
    assertThat(results.get(0)).hasSize(10);
  }
}
