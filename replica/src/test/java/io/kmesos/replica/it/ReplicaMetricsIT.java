package io.kmesos.replica.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.kmesos.api.admin.ProcessMetrics;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.client.Writer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code kmesos-log replica --metrics-port}: real replica processes scraped over HTTP as Prometheus
 * would, and the log client's own metrics in this JVM. Values must move with what the log does: the
 * status with initialization, the write and fsync histograms with appends, the ensemble with a
 * replica's death.
 */
class ReplicaMetricsIT extends LogProcessesTest {
  final HttpClient http = HttpClient.newHttpClient();
  final List<Integer> metricsPorts = new ArrayList<>();

  String scrape(int replica) throws Exception {
    var answer =
        http.send(
            HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + metricsPorts.get(replica) + "/metrics"))
                .timeout(Duration.ofSeconds(30))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(answer.statusCode()).isEqualTo(200);
    return answer.body();
  }

  /**
   * The value of one series ({@code name} or {@code name{labels}}, as written), or -1 when it is
   * absent.
   */
  static double value(String scrape, String series) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(scrape);
    return m.find() ? Double.parseDouble(m.group(1)) : -1;
  }

  @Test
  void statusWriteAndFsyncLatenciesMoveWithTheLog() throws Exception {
    replicas = new ReplicaProcesses(dir, 3);
    for (int i = 0; i < 3; i++) {
      metricsPorts.add(ReplicaProcesses.freePort());
      replicas.start(i, "--metrics-port", metricsPorts.get(i).toString());
    }
    for (int i = 0; i < 3; i++) {
      int r = i;
      await()
          .atMost(PATIENCE)
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                String s = scrape(r);
                assertThat(value(s, "kmesos_replica_status{status=\"EMPTY\"}"))
                    .as("replica %d EMPTY", r)
                    .isEqualTo(1);
                assertThat(value(s, "kmesos_replica_status{status=\"VOTING\"}")).isEqualTo(0);
                assertThat(value(s, "kmesos_replica_queue_depth")).isGreaterThanOrEqualTo(0);
                assertThat(value(s, "kmesos_replica_queue_size_bytes")).isGreaterThanOrEqualTo(0);
                assertThat(s).contains("jvm_memory_used_bytes");
              });
    }

    PrometheusMeterRegistry client = ProcessMetrics.prometheus();
    log = new Log(replicas.peers, Log.REQUEST_DEADLINE, replicas.adminTls(), client);
    await()
        .atMost(PATIENCE)
        .ignoreExceptions()
        .until(
            () -> {
              log.initialize("it-log");
              return true;
            });
    double[] writesBefore = new double[3];
    double[] fsyncsBefore = new double[3];
    for (int i = 0; i < 3; i++) {
      String s = scrape(i);
      assertThat(value(s, "kmesos_replica_status{status=\"VOTING\"}"))
          .as("replica %d VOTING", i)
          .isEqualTo(1);
      assertThat(value(s, "kmesos_replica_status{status=\"EMPTY\"}")).isEqualTo(0);
      writesBefore[i] = Math.max(0, value(s, "kmesos_replica_write_seconds_count"));
      fsyncsBefore[i] = value(s, "kmesos_replica_fsync_seconds_count");
      assertThat(fsyncsBefore[i]).as("initialization is synced").isGreaterThan(0);
    }

    Writer w = electedWriter();
    appendAll(w, "metrics", 200);
    for (int i = 0; i < 3; i++) {
      int r = i;
      // Every replica is sent every write; the third may still be answering when the quorum
      // committed.
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () -> {
                String s = scrape(r);
                assertThat(value(s, "kmesos_replica_write_seconds_count"))
                    .as("replica %d writes", r)
                    .isGreaterThan(writesBefore[r]);
                assertThat(value(s, "kmesos_replica_fsync_seconds_count"))
                    .as("replica %d fsyncs", r)
                    .isGreaterThan(fsyncsBefore[r]);
                assertThat(value(s, "kmesos_replica_fsync_seconds_bucket{le=\"+Inf\"}"))
                    .isEqualTo(value(s, "kmesos_replica_fsync_seconds_count"));
              });
    }
    String mine = client.scrape();
    assertThat(value(mine, "kmesos_log_append_seconds_count"))
        .as("every committed append measured")
        .isEqualTo(200);
    assertThat(value(mine, "kmesos_log_append_seconds_sum")).isGreaterThan(0);
    assertThat(value(mine, "kmesos_log_ensemble_size")).isEqualTo(3);

    replicas.kill(2);
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () -> {
              log.reader().status();
              assertThat(value(client.scrape(), "kmesos_log_ensemble_size")).isEqualTo(2);
            });
    w.close();
  }

  @Test
  void aTakenMetricsPortIsOneLineNamingItAndTheReplicaExits() throws Exception {
    replicas = new ReplicaProcesses(dir, 1);
    try (ServerSocket taken = new ServerSocket(0)) {
      Process p = replicas.start(0, "--metrics-port", Integer.toString(taken.getLocalPort()));
      assertThat(p.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS))
          .as("the replica exits")
          .isTrue();
      assertThat(p.exitValue()).isNotZero();
      assertThat(replicas.log(0))
          .contains("cannot serve /metrics on port " + taken.getLocalPort())
          .doesNotContain("\tat ");
    }
  }
}
