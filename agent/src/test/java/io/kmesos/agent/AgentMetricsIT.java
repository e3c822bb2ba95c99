package io.kmesos.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.kmesos.crds.KmesosCrds;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.crds.v1alpha1.AgentStatus;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.WithKubeApiServer;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kmesos-agent --metrics-port} against a real kube-apiserver: its /metrics says whether the
 * registry holds its node's agent, following the Agent's status as the master writes it.
 */
@WithKubeApiServer
class AgentMetricsIT {
  static final Duration PATIENCE = Duration.ofSeconds(120);

  @TempDir Path dir;

  static double value(String scrape, String series) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(scrape);
    return m.find() ? Double.parseDouble(m.group(1)) : -1;
  }

  @Test
  void registeredFollowsTheAgentsStatusInTheRegistry(
      LocalKubeApiServer server, KubernetesClient client) throws Exception {
    KmesosCrds.install(client, PATIENCE);
    Path kubeconfig = server.writeKubeConfig(dir.resolve("kubeconfig"));
    int port;
    try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = free.getLocalPort();
    }
    Process agent =
        new ProcessBuilder(
                List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx256m",
                    "-cp",
                    System.getProperty("java.class.path"),
                    "io.kmesos.agent.AgentMain",
                    "--node-name",
                    "node-m",
                    "--work-dir",
                    dir.resolve("work").toString(),
                    "--kubeconfig",
                    kubeconfig.toString(),
                    "--metrics-port",
                    Integer.toString(port)))
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("agent.log").toFile())
            .start();
    try {
      HttpClient http = HttpClient.newHttpClient();
      HttpRequest scrape =
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
              .timeout(Duration.ofSeconds(30))
              .build();
      await()
          .atMost(PATIENCE)
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                String s = http.send(scrape, HttpResponse.BodyHandlers.ofString()).body();
                assertThat(value(s, "kmesos_agent_registered")).as("not admitted yet").isEqualTo(0);
                assertThat(s).contains("jvm_threads_live_threads");
              });

      // What the master writes once it admitted the agent into the registry.
      Agent registered = client.resources(Agent.class).withName("node-m").get();
      AgentStatus status = new AgentStatus();
      status.setState("Admitted");
      status.setAgentId("a-1");
      registered.setStatus(status);
      client.resource(registered).updateStatus();
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () ->
                  assertThat(
                          value(
                              http.send(scrape, HttpResponse.BodyHandlers.ofString()).body(),
                              "kmesos_agent_registered"))
                      .isEqualTo(1));

      registered = client.resources(Agent.class).withName("node-m").get();
      registered.getStatus().setState("Unreachable");
      client.resource(registered).updateStatus();
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () ->
                  assertThat(
                          value(
                              http.send(scrape, HttpResponse.BodyHandlers.ofString()).body(),
                              "kmesos_agent_registered"))
                      .isEqualTo(0));
    } finally {
      agent.destroy();
      agent.waitFor(30, TimeUnit.SECONDS);
    }
  }
}
