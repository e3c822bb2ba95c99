package io.kmesos.agent.tasks;

import io.kmesos.api.v1.Resource;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the agent offered in total and what its running tasks hold, so it never runs more than it
 * offered (the master's allocator should never ask it to; this is the agent's own guard, as a Mesos
 * agent checks a task's resources against its total). Agents offer scalars only (their Agent
 * resource's spec.resources), so a task that asks for a ranges resource (ports) does not fit.
 *
 * <p>Not thread-safe: {@link TaskRunner} guards it.
 */
final class ResourceAccount {
  /** Rounding slack for fractional cpus (0.1 + 0.2 > 0.3 in doubles), as Mesos's fixed point. */
  private static final double EPSILON = 1e-6;

  private final Map<String, Double> total;
  private final Map<String, Double> used = new LinkedHashMap<>();

  ResourceAccount(Map<String, Double> total) {
    this.total = Map.copyOf(total);
  }

  /** Why these resources do not fit in what is free, or empty if they do. */
  Optional<String> whyNotFits(List<Resource> asked) {
    for (Resource r : asked) {
      if (r.hasRanges()) {
        return Optional.of(
            "asks for ranges of " + r.getName() + ", which this agent does not offer");
      }
      double free = free().getOrDefault(r.getName(), 0.0);
      if (!total.containsKey(r.getName())) {
        return Optional.of(
            "asks for " + r.getScalar() + " " + r.getName() + ", which this agent does not offer");
      }
      if (r.getScalar() > free + EPSILON) {
        return Optional.of(
            "asks for "
                + r.getScalar()
                + " "
                + r.getName()
                + " but only "
                + free
                + " of "
                + total.get(r.getName())
                + " are free");
      }
    }
    return Optional.empty();
  }

  void take(List<Resource> asked) {
    for (Resource r : asked) {
      used.merge(r.getName(), r.getScalar(), Double::sum);
    }
  }

  void release(List<Resource> held) {
    for (Resource r : held) {
      used.computeIfPresent(
          r.getName(), (k, v) -> v - r.getScalar() <= EPSILON ? null : v - r.getScalar());
    }
  }

  Map<String, Double> total() {
    return total;
  }

  Map<String, Double> used() {
    return Map.copyOf(used);
  }

  Map<String, Double> free() {
    Map<String, Double> free = new LinkedHashMap<>();
    total.forEach((k, v) -> free.put(k, Math.max(0, v - used.getOrDefault(k, 0.0))));
    return free;
  }
}
