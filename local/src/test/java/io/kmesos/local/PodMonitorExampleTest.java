package io.kmesos.local;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.kmesos.agent.AgentMain;
import io.kmesos.controller.ControllerMain;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * manifests/optional/podmonitor.yaml scrapes what manifests/base runs: it selects the pods of every
 * workload there, each of them has the named port it scrapes, and that port is the one the process
 * serves /metrics on (its --metrics-port, or that flag's default).
 */
class PodMonitorExampleTest {
  static final YAMLMapper YAML = new YAMLMapper();

  static List<JsonNode> documents(String file) throws Exception {
    List<JsonNode> out = new ArrayList<>();
    try (var docs = YAML.readerFor(JsonNode.class).readValues(Path.of("..", file).toFile())) {
      while (docs.hasNext()) {
        JsonNode d = (JsonNode) docs.next();
        if (d != null && !d.isEmpty()) {
          out.add(d);
        }
      }
    }
    return out;
  }

  static int defaultMetricsPort(Object command) {
    return Integer.parseInt(
        new CommandLine(command).getCommandSpec().findOption("--metrics-port").defaultValue());
  }

  @Test
  void itScrapesTheMetricsPortOfEveryWorkloadOfTheBase() throws Exception {
    JsonNode monitor = documents("manifests/optional/podmonitor.yaml").get(0);
    assertThat(monitor.at("/kind").asText()).isEqualTo("PodMonitor");
    assertThat(monitor.at("/metadata/namespace").asText()).isEqualTo("kmesos");
    JsonNode expression = monitor.at("/spec/selector/matchExpressions/0");
    assertThat(expression.at("/key").asText()).isEqualTo("app.kubernetes.io/name");
    assertThat(expression.at("/operator").asText()).isEqualTo("In");
    Set<String> selected = new TreeSet<>();
    expression.at("/values").forEach(v -> selected.add(v.asText()));
    String port = monitor.at("/spec/podMetricsEndpoints/0/port").asText();
    assertThat(monitor.at("/spec/podMetricsEndpoints/0/path").asText()).isEqualTo("/metrics");

    Map<String, Integer> defaults =
        Map.of(
            "kmesos-controller",
            defaultMetricsPort(new ControllerMain()),
            "kmesos-agent",
            defaultMetricsPort(new AgentMain()));
    Set<String> workloads = new TreeSet<>();
    for (String file : List.of("replicas.yaml", "controller.yaml", "agent.yaml")) {
      for (JsonNode d : documents("manifests/base/" + file)) {
        if (!Set.of("StatefulSet", "Deployment", "DaemonSet").contains(d.at("/kind").asText())) {
          continue;
        }
        String name = d.at("/spec/template/metadata/labels/app.kubernetes.io~1name").asText();
        workloads.add(name);
        JsonNode container = d.at("/spec/template/spec/containers/0");
        JsonNode named = null;
        for (JsonNode p : container.at("/ports")) {
          if (p.at("/name").asText().equals(port)) {
            named = p;
          }
        }
        assertThat(named).as(name + " has a container port named " + port).isNotNull();
        Integer served = defaults.get(name);
        for (JsonNode arg : container.at("/args")) {
          if (arg.asText().startsWith("--metrics-port=")) {
            served = Integer.parseInt(arg.asText().substring("--metrics-port=".length()));
          }
        }
        assertThat(served).as(name + " serves /metrics (--metrics-port)").isNotNull().isPositive();
        assertThat(named.at("/containerPort").asInt())
            .as(name + "'s " + port + " port")
            .isEqualTo(served);
      }
    }
    assertThat(workloads)
        .containsExactlyInAnyOrder("kmesos-replica", "kmesos-controller", "kmesos-agent");
    assertThat(selected)
        .as("the PodMonitor selects every workload of the base")
        .isEqualTo(workloads);
  }
}
