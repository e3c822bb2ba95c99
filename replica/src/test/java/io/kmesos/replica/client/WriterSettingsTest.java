package io.kmesos.replica.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kmesos.replica.core.Coordinator;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class WriterSettingsTest {
  @Test
  void theDefaultsBecomeTheCoordinatorsTicksOnce() {
    // 10 ms ticks: a resend after half a second, an election attempt of 5 s.
    assertThat(Writer.Settings.DEFAULT.coordinator())
        .isEqualTo(new Coordinator.Config(50, 500, 100_000, 4, 1 << 20));
    assertThat(
            Writer.Settings.DEFAULT
                .withElectionAttempt(Duration.ofSeconds(2))
                .withMaxBatchesInFlight(2)
                .coordinator())
        .isEqualTo(new Coordinator.Config(50, 200, 100_000, 2, 1 << 20));
    assertThat(Writer.Settings.DEFAULT.logTransitions()).isTrue();
    assertThat(Writer.Settings.DEFAULT.quiet().coordinator())
        .isEqualTo(Writer.Settings.DEFAULT.coordinator());
    assertThat(Writer.Settings.DEFAULT.quiet().logTransitions()).isFalse();
  }

  @Test
  void aBadValueIsRefusedInOneLineNamingTheSetting() {
    assertThatThrownBy(() -> Writer.Settings.DEFAULT.withAppendTimeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("appendTimeout")
        .hasMessageNotContaining("\n");
    assertThatThrownBy(() -> Writer.Settings.DEFAULT.withElectionAttempt(Duration.ofMillis(3)))
        .hasMessageContaining("electionAttempt");
    assertThatThrownBy(() -> Writer.Settings.DEFAULT.withMaxBatchesInFlight(0))
        .hasMessageContaining("maxBatchesInFlight");
  }
}
