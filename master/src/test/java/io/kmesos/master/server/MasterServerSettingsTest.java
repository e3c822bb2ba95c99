package io.kmesos.master.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class MasterServerSettingsTest {
  @Test
  void theDefaultsAreMesossAndValid() {
    MasterServerSettings d = MasterServerSettings.defaults();
    assertThat(d.port()).isEqualTo(5050);
    assertThat(d.allocationInterval()).isEqualTo(Duration.ofSeconds(1));
    assertThat(d.offerTimeout()).isNull();
    assertThat(d.agentPingTimeout()).isEqualTo(Duration.ofSeconds(15));
    assertThat(d.maxAgentPingTimeouts()).isEqualTo(5);
    assertThat(d.agentUnreachableTimeout()).isEqualTo(Duration.ofSeconds(75));
    assertThat(d.agentReregisterTimeout()).isEqualTo(Duration.ofMinutes(10));
    assertThat(d.agentRecoveryFactor()).isEqualTo(0.8);
    assertThat(d.allocationHoldOff()).isEqualTo(Duration.ofMinutes(10));
  }

  @Test
  void eachBadSettingIsNamed() {
    MasterServerSettings d = MasterServerSettings.defaults();
    assertThatThrownBy(() -> d.withListen("0.0.0.0", 70000))
        .hasMessage("the master's port must be 0..65535, not 70000");
    assertThatThrownBy(() -> d.withAllocationInterval(Duration.ZERO))
        .hasMessage("the allocation interval must be positive, not PT0S");
    assertThatThrownBy(() -> d.withOfferTimeout(Duration.ofSeconds(-1)))
        .hasMessage("the offer timeout must be positive, not PT-1S");
    assertThatThrownBy(() -> d.withAgentPing(Duration.ofSeconds(10), Duration.ofSeconds(5)))
        .hasMessage(
            "the agent ping timeout (PT5S) must not be shorter than the agent ping interval (PT10S)");
    assertThatThrownBy(() -> d.withAgentPing(Duration.ofSeconds(1), Duration.ofSeconds(1), 0))
        .hasMessage("the most agent ping timeouts must be at least 1, not 0");
    assertThatThrownBy(() -> d.withFailover(Duration.ZERO, 0.8, Duration.ZERO))
        .hasMessage("the agent re-register timeout must be positive, not PT0S");
    assertThatThrownBy(() -> d.withFailover(Duration.ofMinutes(1), 1.5, Duration.ZERO))
        .hasMessage("the agent recovery factor must be between 0 and 1, not 1.5");
    assertThatThrownBy(() -> d.withFailover(Duration.ofMinutes(1), 0.8, Duration.ofSeconds(-1)))
        .hasMessage("the allocation hold-off must not be negative, not PT-1S");
    assertThatThrownBy(() -> d.withStreamQueueLimit(0))
        .hasMessage("the stream queue limit must be positive, not 0");
    assertThatThrownBy(() -> d.withListen(" ", 1))
        .hasMessage("the master's listen host must be given");
  }
}
