package io.kmesos.controller;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaderElectionRecord;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import org.junit.jupiter.api.Test;

/** When the standby's take judges the Lease free: exactly when fabric8's elector would. */
class LeaseTakerTest {
  static final Duration LEASE = Duration.ofSeconds(15);
  static final ZonedDateTime NOW = ZonedDateTime.of(2026, 12, 6, 3, 0, 0, 0, ZoneOffset.UTC);

  @Test
  void releasedOrUnrenewedForALeaseDurationIsFreeAndNothingElse() {
    assertThat(LeaseTaker.free(record(null, NOW), LEASE, NOW)).as("released: no holder").isTrue();
    assertThat(LeaseTaker.free(record("", NOW), LEASE, NOW)).as("empty holder").isTrue();
    assertThat(LeaseTaker.free(record("a", NOW.minusSeconds(14)), LEASE, NOW))
        .as("renewed 14 s ago, 15 s lease")
        .isFalse();
    assertThat(LeaseTaker.free(record("a", NOW.minusSeconds(15)), LEASE, NOW))
        .as("renewed a lease duration ago")
        .isTrue();
  }

  private static LeaderElectionRecord record(String holder, ZonedDateTime renewed) {
    return new LeaderElectionRecord(holder, LEASE, renewed, renewed, 0);
  }
}
