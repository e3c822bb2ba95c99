package io.kmesos.replica.tool;

import com.google.protobuf.ByteString;
import com.sun.management.OperatingSystemMXBean;
import io.kmesos.api.cli.Failures;
import io.kmesos.api.cli.VersionProvider;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.client.Writer;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Appends as fast as a number of closed-loop clients can: each client waits for its append to be
 * committed before it sends the next, as etcd's own benchmark does. All clients share one writer,
 * as a master's operations share its registrar, so concurrent appends share round trips and fsyncs.
 *
 * <p>A client is asynchronous by default: it sends its next append from the completion of the
 * previous one, the way a registrar uses the writer and the way etcd's Go benchmark client runs
 * each client as a goroutine. {@code --blocking-clients} gives each client a thread of its own that
 * blocks on every append instead (that measures the JVM's thread hand-offs as well).
 */
@Command(
    name = "benchmark",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description =
        "Measures append throughput and latency against running replicas (the log must be initialized).")
final class BenchmarkCommand implements Callable<Integer> {
  @Mixin PeersOption peers;

  @Option(
      names = "--clients",
      defaultValue = "1",
      description = "Concurrent closed-loop clients (default: ${DEFAULT-VALUE}).")
  int clients;

  @Option(
      names = "--appends",
      defaultValue = "20000",
      description = "Appends to measure (default: ${DEFAULT-VALUE}).")
  int appends;

  @Option(
      names = "--warmup",
      defaultValue = "2000",
      description = "Appends before measuring (default: ${DEFAULT-VALUE}).")
  int warmup;

  @Option(
      names = "--size",
      defaultValue = "256",
      description = "Payload bytes (default: ${DEFAULT-VALUE}).")
  int size;

  @Option(
      names = "--blocking-clients",
      description = "One thread per client, blocking on each append.")
  boolean blocking;

  @Option(
      names = "--batches-in-flight",
      defaultValue = "4",
      description = "Write batches the writer keeps in flight (default: ${DEFAULT-VALUE}).")
  int batchesInFlight;

  @Override
  public Integer call() throws Exception {
    if (clients < 1 || appends < clients || size < 0 || batchesInFlight < 1) {
      throw new IllegalArgumentException(
          "need --clients >= 1, --appends >= --clients, --size >= 0 and --batches-in-flight >= 1");
    }
    byte[] payload = new byte[size];
    new Random(42).nextBytes(payload);
    ByteString value = ByteString.copyFrom(payload);
    Writer.Settings settings =
        Writer.Settings.DEFAULT.withMaxBatchesInFlight(batchesInFlight).quiet();
    try (Log log = peers.log();
        Writer writer = log.writer(settings)) {
      writer
          .elect()
          .get(40, TimeUnit.SECONDS); // the writer gives up by itself after 30 s, naming why
      run(
          writer,
          value,
          Math.min(clients, Math.max(1, warmup)),
          warmup,
          new long[Math.max(warmup, 1)]);
      long[] latencies = new long[appends];
      var os = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
      long cpu0 = os.getProcessCpuTime();
      long t0 = System.nanoTime();
      run(writer, value, clients, appends, latencies);
      long elapsed = System.nanoTime() - t0;
      long cpu = os.getProcessCpuTime() - cpu0;
      Arrays.sort(latencies);
      System.out.printf(
          "%s clients=%d appends=%d size=%d ops_per_s=%.0f p50_ms=%.3f p99_ms=%.3f client_cpu_us_per_op=%.1f%n",
          blocking ? "kmesos-blocking" : "kmesos",
          clients,
          appends,
          size,
          appends / (elapsed / 1e9),
          latencies[appends / 2] / 1e6,
          latencies[(int) (appends * 0.99)] / 1e6,
          cpu / 1e3 / appends);
    }
    return 0;
  }

  private void run(Writer writer, ByteString value, int clients, int total, long[] latencies)
      throws Exception {
    if (total == 0) {
      return;
    }
    AtomicInteger next = new AtomicInteger();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch done = new CountDownLatch(clients);
    if (!blocking) {
      for (int c = 0; c < clients; c++) {
        new AsyncClient(writer, value, total, next, latencies, failure, done).send();
      }
      if (!done.await(10, TimeUnit.MINUTES)) {
        throw new IllegalStateException("the benchmark did not finish within 10 minutes");
      }
      if (failure.get() != null) {
        throw new IllegalStateException(
            "an append failed: " + Failures.oneLine(failure.get()), failure.get());
      }
      return;
    }
    for (int c = 0; c < clients; c++) {
      Thread t =
          new Thread(
              () -> {
                try {
                  for (int i; (i = next.getAndIncrement()) < total && failure.get() == null; ) {
                    long s = System.nanoTime();
                    writer.append(value).get(30, TimeUnit.SECONDS);
                    latencies[i] = System.nanoTime() - s;
                  }
                } catch (Exception e) {
                  failure.compareAndSet(null, e);
                } finally {
                  done.countDown();
                }
              },
              "bench-client-" + c);
      t.setDaemon(true);
      t.start();
    }
    done.await();
    if (failure.get() != null) {
      throw new IllegalStateException(
          "an append failed: " + Failures.oneLine(failure.get()), failure.get());
    }
  }

  /** One closed-loop client without a thread: the completion of each append sends the next. */
  private record AsyncClient(
      Writer writer,
      ByteString value,
      int total,
      AtomicInteger next,
      long[] latencies,
      AtomicReference<Throwable> failure,
      CountDownLatch done) {
    void send() {
      int i = next.getAndIncrement();
      if (i >= total || failure.get() != null) {
        done.countDown();
        return;
      }
      long start = System.nanoTime();
      writer
          .append(value)
          .whenComplete(
              (position, error) -> {
                if (error != null) {
                  failure.compareAndSet(null, error);
                  done.countDown();
                } else {
                  latencies[i] = System.nanoTime() - start;
                  send();
                }
              });
    }
  }
}
