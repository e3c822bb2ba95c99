package io.kmesos.api.admin;

import io.kmesos.api.KmesosVersion;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;

/**
 * The meter registries of kmesos processes, and the one way latencies are measured. Names are
 * Micrometer's dotted ones ({@code kmesos.registrar.state.store}); the Prometheus registry writes
 * them as {@code kmesos_registrar_state_store_seconds}. docs/operations.md lists every metric with
 * the Mesos name it stands for.
 */
public final class ProcessMetrics {
  private ProcessMetrics() {}

  /**
   * Bucket bounds of every latency histogram, in seconds: from a fast fsync (0.5 ms) to a slow
   * recovery (30 s). Fixed, so that histograms of different processes add up in PromQL.
   */
  static final Duration[] LATENCY_BUCKETS = {
    Duration.ofNanos(500_000),
    Duration.ofMillis(1),
    Duration.ofMillis(2),
    Duration.ofMillis(5),
    Duration.ofMillis(10),
    Duration.ofMillis(25),
    Duration.ofMillis(50),
    Duration.ofMillis(100),
    Duration.ofMillis(250),
    Duration.ofMillis(500),
    Duration.ofSeconds(1),
    Duration.ofMillis(2500),
    Duration.ofSeconds(5),
    Duration.ofSeconds(10),
    Duration.ofSeconds(30)
  };

  /**
   * A process's registry for {@code /metrics}: the JVM's memory, GC, threads, class loading, CPU,
   * open files and uptime, plus {@code kmesos_build_info{version=...}} (always 1) to tell releases
   * apart.
   */
  public static PrometheusMeterRegistry prometheus() {
    PrometheusMeterRegistry r = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new JvmMemoryMetrics().bindTo(r);
    new JvmGcMetrics().bindTo(r); // lives as long as the process: never closed
    new JvmThreadMetrics().bindTo(r);
    new ClassLoaderMetrics().bindTo(r);
    new ProcessorMetrics().bindTo(r);
    new FileDescriptorMetrics().bindTo(r);
    new UptimeMetrics().bindTo(r);
    Gauge.builder("kmesos.build.info", () -> 1)
        .description("Always 1; the version is the label")
        .tag("version", KmesosVersion.version())
        .register(r);
    return r;
  }

  /** A registry that keeps nothing: for code run without {@code /metrics} (tools, tests). */
  public static MeterRegistry none() {
    return new CompositeMeterRegistry();
  }

  /** A latency histogram in seconds with {@link #LATENCY_BUCKETS}. */
  public static Timer latency(
      MeterRegistry registry, String name, String description, String... tags) {
    return Timer.builder(name)
        .description(description)
        .tags(tags)
        .serviceLevelObjectives(LATENCY_BUCKETS)
        .register(registry);
  }
}
