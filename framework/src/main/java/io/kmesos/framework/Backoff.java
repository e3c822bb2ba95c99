package io.kmesos.framework;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The pause between rounds of connection attempts that the kmesos clients share: exponential from
 * 100 ms, doubling up to 5 s, each pause drawn at random from its upper half so that many clients
 * that lost the same master do not come back in step.
 */
public final class Backoff {
  public static final Duration INITIAL = Duration.ofMillis(100);
  public static final Duration MAX = Duration.ofSeconds(5);

  private final long initialMillis;
  private final long maxMillis;
  private long currentMillis;

  public Backoff() {
    this(INITIAL, MAX);
  }

  public Backoff(Duration initial, Duration max) {
    this.initialMillis = Math.max(1, initial.toMillis());
    this.maxMillis = Math.max(initialMillis, max.toMillis());
    this.currentMillis = initialMillis;
  }

  /** The next pause: in [current/2, current]; the one after is twice as long, up to the max. */
  public Duration next() {
    long d = currentMillis;
    currentMillis = Math.min(maxMillis, currentMillis * 2);
    long half = d / 2;
    return Duration.ofMillis(half + ThreadLocalRandom.current().nextLong(d - half + 1));
  }

  /** Back to the initial pause, after a success. */
  public void reset() {
    currentMillis = initialMillis;
  }
}
