package io.kmesos.executor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ExecutorSettingsTest {
  static Map<String, String> env() {
    Map<String, String> env = new HashMap<>();
    env.put("KMESOS_AGENT_ENDPOINT", "unix:/var/lib/kmesos-agent/executor-api/agent.sock");
    env.put("KMESOS_EXECUTOR_TOKEN", "t0k3n");
    env.put("MESOS_FRAMEWORK_ID", "fw");
    env.put("MESOS_EXECUTOR_ID", "ex");
    env.put("MESOS_AGENT_ID", "agent-1");
    env.put("MESOS_SANDBOX", "/sandbox");
    env.put("MESOS_CHECKPOINT", "1");
    env.put("MESOS_RECOVERY_TIMEOUT", "900000ms");
    return env;
  }

  @Test
  void readsWhatTheAgentSets() {
    ExecutorSettings s = ExecutorSettings.fromEnvironment(env());
    assertThat(s.socket()).isEqualTo(Path.of("/var/lib/kmesos-agent/executor-api/agent.sock"));
    assertThat(s.token()).isEqualTo("t0k3n");
    assertThat(s.frameworkId()).isEqualTo("fw");
    assertThat(s.executorId()).isEqualTo("ex");
    assertThat(s.agentId()).isEqualTo("agent-1");
    assertThat(s.sandbox()).isEqualTo(Path.of("/sandbox"));
    assertThat(s.checkpoint()).isTrue();
    assertThat(s.recoveryTimeout()).isEqualTo(Duration.ofMinutes(15));
  }

  @Test
  void defaultsWhereMesosHasThem() {
    Map<String, String> env = env();
    env.remove("MESOS_CHECKPOINT");
    env.remove("MESOS_RECOVERY_TIMEOUT");
    ExecutorSettings s = ExecutorSettings.fromEnvironment(env);
    assertThat(s.checkpoint()).isFalse();
    assertThat(s.recoveryTimeout()).isEqualTo(Duration.ofMinutes(15));
  }

  @Test
  void aMissingOrBadVariableIsNamed() {
    Map<String, String> noToken = env();
    noToken.remove("KMESOS_EXECUTOR_TOKEN");
    assertThatThrownBy(() -> ExecutorSettings.fromEnvironment(noToken))
        .hasMessage(
            "KMESOS_EXECUTOR_TOKEN is not set: an executor runs in the environment its agent"
                + " starts it with");
    Map<String, String> tcp = env();
    tcp.put("KMESOS_AGENT_ENDPOINT", "127.0.0.1:5051");
    assertThatThrownBy(() -> ExecutorSettings.fromEnvironment(tcp))
        .hasMessageStartingWith("KMESOS_AGENT_ENDPOINT must be unix:<path");
    Map<String, String> timeout = env();
    timeout.put("MESOS_RECOVERY_TIMEOUT", "15 minutes");
    assertThatThrownBy(() -> ExecutorSettings.fromEnvironment(timeout))
        .hasMessage(
            "MESOS_RECOVERY_TIMEOUT must be a duration like 500ms, 15s, 2m, 1h or 7d, not '15"
                + " minutes'");
    Map<String, String> checkpoint = env();
    checkpoint.put("MESOS_CHECKPOINT", "yes");
    assertThatThrownBy(() -> ExecutorSettings.fromEnvironment(checkpoint))
        .hasMessage("MESOS_CHECKPOINT must be 0 or 1, not 'yes'");
  }
}
