package io.kmesos.framework;

import com.google.protobuf.util.Durations;
import java.time.Duration;

/**
 * Small conversions between Java time and the protobuf well-known types (whose {@code Duration}
 * shares its simple name with java.time's, hence the one qualified name here).
 */
public final class Protos {
  private Protos() {}

  public static com.google.protobuf.Duration duration(Duration d) {
    return Durations.fromNanos(d.toNanos());
  }

  /** The duration, or {@code otherwise} when it is unset or not positive. */
  public static Duration duration(com.google.protobuf.Duration d, Duration otherwise) {
    Duration j = Duration.ofSeconds(d.getSeconds(), d.getNanos());
    return j.isNegative() || j.isZero() ? otherwise : j;
  }
}
