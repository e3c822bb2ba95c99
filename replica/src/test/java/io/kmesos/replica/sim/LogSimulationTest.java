package io.kmesos.replica.sim;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * Deterministic simulation of the replicated log over many seeds (see {@link Simulation}).
 *
 * <p>{@code -Dsim.seeds=N} runs seeds 1..N (default 1000); {@code -Dsim.seed=S} replays one seed;
 * {@code -Dsim.from=F} starts the range elsewhere.
 */
class LogSimulationTest {

  @Test
  void safetyHoldsAndTheLogConvergesUnderFaults() {
    String one = System.getProperty("sim.seed");
    long from = one != null ? Long.parseLong(one) : Long.getLong("sim.from", 1);
    long count = one != null ? 1 : Long.getLong("sim.seeds", 1000);
    long committed = 0;
    long wipes = 0;
    long crashes = 0;
    for (long seed = from; seed < from + count; seed++) {
      Simulation sim = new Simulation(seed);
      sim.run(); // throws with the seed and a replay command on any violation
      committed += sim.committedCount;
      wipes += sim.wipes;
      crashes += sim.crashes;
    }
    System.out.printf(
        "log simulation: %d seeds from %d, %d appends committed, %d crashes, %d wiped disks%n",
        count, from, committed, crashes, wipes);
    // The runs must actually exercise the log, not just idle through their faults.
    assertThat(committed).as("appends committed across all seeds").isGreaterThan(count * 20);
  }
}
