package io.kmesos.master.bench;

import com.google.protobuf.util.Durations;
import io.kmesos.api.resources.Resources;
import io.kmesos.api.scheduler.v1.DeclineRequest;
import io.kmesos.api.scheduler.v1.Event;
import io.kmesos.api.scheduler.v1.SubscribeRequest;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.MasterInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.master.allocator.Allocator;
import io.kmesos.master.core.Effects;
import io.kmesos.master.core.FrameworkEvent;
import io.kmesos.master.core.IdSource;
import io.kmesos.master.core.MasterConfig;
import io.kmesos.master.core.MasterCore;
import java.io.PrintStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One allocation cycle's cost, measured the way Mesos's {@code
 * HierarchicalAllocator_BENCHMARK_Test.DeclineOffers} measures its allocator, so that the figures
 * stand next to Mesos's published ones: {@code agents} agents of {@code
 * cpus:24;mem:4096;disk:4096;ports:[31000-32000]}, each already running 16 cpus of one framework's
 * tasks, {@code frameworks} frameworks in the default role; every round declines each offer of the
 * round before for good and times the next cycle alone.
 *
 * <p>Two layers are measured: {@code allocator} is {@link Allocator#allocate} alone (what Mesos's
 * benchmark times); {@code master} is a whole {@link MasterCore#tick}, which also makes the offers'
 * protobufs, their IDs and the events for the frameworks' streams, with the declines made as
 * scheduler calls. Neither includes the network: that is the benchmark of the gRPC master.
 *
 * <p>Prints one line per round ({@code layer=... agents=... frameworks=... repeat=... round=...
 * ms=... offers=...}); {@code bench/allocation.sh} turns them into the results file.
 */
public final class AllocationBenchmark {
  static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  static final Resources AGENT = Resources.parse("cpus:24;mem:4096;disk:4096;ports:[31000-32000]");

  /** 16 tasks' worth: 16 cpus and 16 single ports, as Mesos's benchmark charges every agent. */
  static final Resources USED =
      Resources.parse(
          "cpus:16;mem:2014;disk:1024;ports:[31000-31000,31002-31002,31004-31004,31006-31006,"
              + "31008-31008,31010-31010,31012-31012,31014-31014,31016-31016,31018-31018,"
              + "31020-31020,31022-31022,31024-31024,31026-31026,31028-31028,31030-31030]");

  private AllocationBenchmark() {}

  /**
   * Arguments: {@code <agents>x<frameworks>[,...] rounds repeats}, e.g. {@code 1000x50,10000x1000
   * 20 3}.
   */
  public static void main(String[] args) {
    if (args.length != 3) {
      System.err.println(
          "usage: AllocationBenchmark <agents>x<frameworks>[,...] <rounds> <repeats>");
      System.exit(2);
    }
    int rounds = Integer.parseInt(args[1]);
    int repeats = Integer.parseInt(args[2]);
    for (int repeat = 1; repeat <= repeats; repeat++) {
      for (String size : args[0].split(",")) {
        String[] parts = size.split("x");
        int agents = Integer.parseInt(parts[0]);
        int frameworks = Integer.parseInt(parts[1]);
        allocator(agents, frameworks, rounds, repeat, System.out);
        master(agents, frameworks, rounds, repeat, System.out);
      }
    }
  }

  static void allocator(int agents, int frameworks, int rounds, int repeat, PrintStream out) {
    Allocator allocator = new Allocator();
    List<String> frameworkIds = new ArrayList<>();
    for (int f = 0; f < frameworks; f++) {
      String id = "framework-" + f;
      frameworkIds.add(id);
      allocator.addFramework(id, Set.of(Allocator.DEFAULT_ROLE), Set.of());
    }
    for (int a = 0; a < agents; a++) {
      String id = "agent-" + a;
      allocator.addAgent(id, id + ".example.com", AGENT);
      allocator.allocated(frameworkIds.get(a % frameworks), id, Allocator.DEFAULT_ROLE, USED);
    }
    Instant now = T0;
    List<Allocator.Offer> offers = List.of();
    for (int round = 1; round <= rounds; round++) {
      for (Allocator.Offer offer : offers) {
        allocator.decline(offer, Allocator.MAX_REFUSE, now);
      }
      now = now.plusSeconds(1);
      long start = System.nanoTime();
      offers = allocator.allocate(now);
      long nanos = System.nanoTime() - start;
      print(out, "allocator", agents, frameworks, repeat, round, nanos, offers.size());
    }
  }

  static void master(int agents, int frameworks, int rounds, int repeat, PrintStream out) {
    MasterInfo info = MasterInfo.newBuilder().setId("bench").setAddress("127.0.0.1:5050").build();
    MasterCore core = new MasterCore(MasterConfig.defaults(info), IdSource.sequential("bench"));
    Instant now = T0;
    Map<String, String> streams = new HashMap<>();
    for (int f = 0; f < frameworks; f++) {
      Effects e =
          core.subscribe(
              SubscribeRequest.newBuilder()
                  .setFrameworkInfo(
                      FrameworkInfo.newBuilder()
                          .setName("framework-" + f)
                          .addRoles(Allocator.DEFAULT_ROLE))
                  .build(),
              "bench",
              now);
      Event.Subscribed s = e.events().get(e.events().size() - 1).event().getSubscribed();
      streams.put(s.getFrameworkId(), s.getStreamId());
    }
    for (int a = 0; a < agents; a++) {
      String id = "agent-" + a;
      core.agentRegistered(id, id + ".example.com", AGENT, now);
    }
    List<Offer> offers = new ArrayList<>();
    Map<String, List<String>> byFramework = new HashMap<>();
    for (int round = 1; round <= rounds; round++) {
      byFramework.clear();
      for (Offer offer : offers) {
        byFramework
            .computeIfAbsent(offer.getFrameworkId(), k -> new ArrayList<>())
            .add(offer.getId());
      }
      for (Map.Entry<String, List<String>> e : byFramework.entrySet()) {
        DeclineRequest.Builder decline =
            DeclineRequest.newBuilder()
                .setFrameworkId(e.getKey())
                .setStreamId(streams.get(e.getKey()))
                .addAllOfferIds(e.getValue());
        decline.getFiltersBuilder().setRefuse(Durations.fromDays(365));
        core.decline(decline.build(), "bench", now);
      }
      now = now.plusSeconds(1);
      long start = System.nanoTime();
      Effects tick = core.tick(now);
      long nanos = System.nanoTime() - start;
      offers.clear();
      for (FrameworkEvent fe : tick.events()) {
        if (fe.event().hasOffers()) {
          offers.addAll(fe.event().getOffers().getOffersList());
        }
      }
      print(out, "master", agents, frameworks, repeat, round, nanos, offers.size());
    }
  }

  private static void print(
      PrintStream out,
      String layer,
      int agents,
      int frameworks,
      int repeat,
      int round,
      long nanos,
      int offers) {
    out.printf(
        "layer=%s agents=%d frameworks=%d repeat=%d round=%d ms=%.3f offers=%d%n",
        layer, agents, frameworks, repeat, round, nanos / 1e6, offers);
    out.flush();
  }
}
