package io.kmesos.controller.reconcile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class RemovalRateLimitTest {
  @Test
  void allowsTheCountPerPeriodThenSaysHowLongToWait() {
    RemovalRateLimit limit = RemovalRateLimit.parse("2/10m");
    assertThat(limit.acquire()).isZero();
    assertThat(limit.acquire()).isZero();
    long wait = limit.acquire();
    assertThat(wait).as("the next token comes after 5 minutes").isBetween(299_000L, 300_000L);
  }

  @Test
  void unlimitedNeverWaits() {
    RemovalRateLimit limit = RemovalRateLimit.unlimited();
    for (int i = 0; i < 10_000; i++) {
      assertThat(limit.acquire()).isZero();
    }
  }

  @Test
  void aMalformedLimitIsRefusedWithTheExpectedForm() {
    assertThatThrownBy(() -> RemovalRateLimit.parse("10 per minute"))
        .hasMessageContaining("looks like 1/10m");
    assertThatThrownBy(() -> RemovalRateLimit.parse("0/1m"))
        .hasMessageContaining("looks like 1/10m");
  }
}
