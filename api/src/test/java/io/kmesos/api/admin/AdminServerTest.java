package io.kmesos.api.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The admin server as Prometheus and the kubelet use it: real HTTP requests on 127.0.0.1. */
class AdminServerTest {
  final HttpClient http = HttpClient.newHttpClient();
  AdminServer server;

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  HttpResponse<String> get(String path, String... headers) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
            .timeout(Duration.ofSeconds(30));
    if (headers.length > 0) {
      b.headers(headers);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void metricsAreScrapedInPrometheusTextFormatWithTheirCurrentValues() throws Exception {
    PrometheusMeterRegistry registry = ProcessMetrics.prometheus();
    Counter appends = Counter.builder("kmesos.test.appends").register(registry);
    Timer latency = ProcessMetrics.latency(registry, "kmesos.test.latency", "a test latency");
    server = AdminServer.start(0, AdminServer.routes(registry));

    appends.increment(3);
    latency.record(Duration.ofMillis(3));
    var answer = get("/metrics");
    assertThat(answer.statusCode()).isEqualTo(200);
    assertThat(answer.headers().firstValue("Content-Type"))
        .hasValueSatisfying(t -> assertThat(t).startsWith("text/plain"));
    assertThat(answer.body())
        .contains("kmesos_test_appends_total 3.0")
        // seconds, with the shared buckets: 3 ms falls in the 5 ms one and above, not in 2 ms
        .contains("kmesos_test_latency_seconds_bucket{le=\"0.002\"} 0")
        .contains("kmesos_test_latency_seconds_bucket{le=\"0.005\"} 1")
        .contains("kmesos_test_latency_seconds_count 1")
        .containsPattern("kmesos_build_info\\{version=\"[^\"]+\"} 1")
        .contains("jvm_memory_used_bytes")
        .contains("process_uptime_seconds");

    appends.increment();
    assertThat(get("/metrics").body()).contains("kmesos_test_appends_total 4.0");
  }

  @Test
  void openMetricsIsServedToWhoAsksForIt() throws Exception {
    server = AdminServer.start(0, AdminServer.routes(ProcessMetrics.prometheus()));
    var answer = get("/metrics", "Accept", "application/openmetrics-text; version=1.0.0");
    assertThat(answer.headers().firstValue("Content-Type"))
        .hasValueSatisfying(t -> assertThat(t).startsWith("application/openmetrics-text"));
    assertThat(answer.body()).endsWith("# EOF\n");
  }

  @Test
  void aProbeAnswers200WhenItPassesAnd503WithWhyWhenItDoesNot() throws Exception {
    AtomicReference<Health> ready =
        new AtomicReference<>(Health.failing("the registry is being recovered"));
    server =
        AdminServer.start(
            0,
            AdminServer.routes(ProcessMetrics.prometheus())
                .probe("/healthz", () -> Health.ok("alive"))
                .probe("/readyz", ready::get));

    assertThat(get("/healthz").statusCode()).isEqualTo(200);
    var notReady = get("/readyz");
    assertThat(notReady.statusCode()).isEqualTo(503);
    assertThat(notReady.body()).isEqualTo("the registry is being recovered\n");

    ready.set(Health.ok("master: the registry is recovered"));
    var isReady = get("/readyz");
    assertThat(isReady.statusCode()).isEqualTo(200);
    assertThat(isReady.body()).isEqualTo("master: the registry is recovered\n");
  }

  @Test
  void aProbeThatThrowsFailsWithItsReason() throws Exception {
    server =
        AdminServer.start(
            0,
            AdminServer.routes(ProcessMetrics.prometheus())
                .probe(
                    "/readyz",
                    () -> {
                      throw new IllegalStateException("no runtime yet");
                    }));
    var answer = get("/readyz");
    assertThat(answer.statusCode()).isEqualTo(503);
    assertThat(answer.body()).contains("no runtime yet");
  }

  @Test
  void unknownPathsAndOtherMethodsAreRefused() throws Exception {
    server =
        AdminServer.start(
            0,
            AdminServer.routes(ProcessMetrics.prometheus())
                .probe("/healthz", () -> Health.ok("ok")));
    var missing = get("/healthzz");
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(missing.body()).contains("/metrics").contains("/healthz");
    var post =
        http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/metrics"))
                .POST(HttpRequest.BodyPublishers.noBody())
                .timeout(Duration.ofSeconds(30))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(post.statusCode()).isEqualTo(405);
  }

  @Test
  void aTakenPortIsAnErrorNamingIt() throws Exception {
    try (ServerSocket taken = new ServerSocket(0)) {
      assertThatThrownBy(
              () ->
                  AdminServer.start(
                      taken.getLocalPort(), AdminServer.routes(ProcessMetrics.prometheus())))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("port " + taken.getLocalPort());
    }
  }
}
