package io.kmesos.replica.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kmesos.api.grpc.DisabledEndpoints;
import io.kmesos.replica.core.ReplicaCore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReplicaServerConfigTest {
  static final List<String> PEERS = List.of("127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003");

  @Test
  void theCoreGetsItsTimersInTicksAndAGraceLongerThanAnyRequestLives() {
    ReplicaServer.Config config = ReplicaServer.Config.of(1, PEERS, Path.of("unused"));
    // 10 ms ticks: catch up every 100 ms, ask again after 500 ms; the longest request lives 6 s.
    assertThat(config.longestRequestAge()).isEqualTo(Duration.ofSeconds(6));
    assertThat(config.core()).isEqualTo(new ReplicaCore.Config(10, 700, 50, 1000, 16L << 20));
  }

  @Test
  void aBadValueIsRefusedInOneLineNamingTheSetting() {
    assertThatThrownBy(() -> ReplicaServer.Config.of(3, PEERS, Path.of("unused")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("replica id 3 is not an index into the 3 peers");
    assertThatThrownBy(
            () ->
                new ReplicaServer.Config(
                    0,
                    PEERS,
                    Path.of("unused"),
                    "",
                    Duration.ZERO,
                    Duration.ofSeconds(2),
                    10,
                    "",
                    DisabledEndpoints.NONE))
        .hasMessageContaining("tick");
    assertThatThrownBy(
            () ->
                new ReplicaServer.Config(
                    0,
                    PEERS,
                    Path.of("unused"),
                    "",
                    Duration.ofMillis(10),
                    Duration.ofSeconds(2),
                    0,
                    "",
                    DisabledEndpoints.NONE))
        .hasMessageContaining("queueLimit");
  }
}
