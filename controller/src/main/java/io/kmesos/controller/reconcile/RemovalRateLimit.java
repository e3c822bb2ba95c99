package io.kmesos.controller.reconcile;

import io.kmesos.api.cli.Durations;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How fast agents may be removed from the registry (Mesos {@code --agent_removal_rate_limit}, e.g.
 * {@code 1/10m}: at most one removal per 10 minutes, bursts up to the count). A token bucket: a
 * removal takes a token; tokens come back at count per period.
 */
public final class RemovalRateLimit {
  private static final Pattern FORMAT = Pattern.compile("(\\d+)/(\\d+(?:ms|s|m|h))");

  private final int burst;
  private final long nanosPerToken;
  private double tokens;
  private long refilledAt;

  private RemovalRateLimit(int count, Duration period) {
    this.burst = count;
    this.nanosPerToken = period.toNanos() / count;
    this.tokens = count;
    this.refilledAt = System.nanoTime();
  }

  /** No limit. */
  public static RemovalRateLimit unlimited() {
    return new RemovalRateLimit(Integer.MAX_VALUE, Duration.ofNanos(Integer.MAX_VALUE));
  }

  /** Parses {@code <count>/<period>}, the period as 500ms, 30s, 10m or 1h. */
  public static RemovalRateLimit parse(String spec) {
    Matcher m = FORMAT.matcher(spec.trim());
    Duration period = m.matches() ? new Durations().convert(m.group(2)) : Duration.ZERO;
    if (!m.matches() || Integer.parseInt(m.group(1)) == 0 || period.isZero()) {
      throw new IllegalArgumentException(
          "a removal rate limit looks like 1/10m (count/period, period in ms, s, m or h), not '"
              + spec
              + "'");
    }
    return new RemovalRateLimit(Integer.parseInt(m.group(1)), period);
  }

  /** Takes a token: 0 if a removal may go ahead now, else how many milliseconds until one may. */
  public synchronized long acquire() {
    long now = System.nanoTime();
    tokens = Math.min(burst, tokens + (double) (now - refilledAt) / nanosPerToken);
    refilledAt = now;
    if (tokens >= 1) {
      tokens -= 1;
      return 0;
    }
    return Math.max(1, (long) ((1 - tokens) * nanosPerToken / 1_000_000));
  }
}
