package io.kmesos.api.admin;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * The small HTTP server every kmesos process runs beside its real work: {@code /metrics} for
 * Prometheus, and the process's probes ({@code /healthz}, {@code /readyz}) where it has any. A
 * probe answers 200 with its detail when it passes, 503 with why when it does not. Only GET and
 * HEAD; any other path is 404.
 *
 * <p>It has threads of its own (two): a slow scrape never holds up a probe, and nothing here runs
 * on the threads of the process's real work.
 */
public final class AdminServer implements AutoCloseable {
  public static final String METRICS = "/metrics";
  public static final String HEALTHZ = "/healthz";
  public static final String READYZ = "/readyz";

  /** What Prometheus reads by default, and what it asks for when it prefers OpenMetrics. */
  static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

  static final String OPENMETRICS_TEXT =
      "application/openmetrics-text; version=1.0.0; charset=utf-8";

  private final HttpServer http;
  private final ExecutorService threads;

  private AdminServer(HttpServer http, ExecutorService threads) {
    this.http = http;
    this.threads = threads;
  }

  /** What one process serves: its metrics, and its probes by path. */
  public static final class Routes {
    private final PrometheusMeterRegistry metrics;
    private final Map<String, Supplier<Health>> probes = new LinkedHashMap<>();

    private Routes(PrometheusMeterRegistry metrics) {
      this.metrics = metrics;
    }

    public Routes probe(String path, Supplier<Health> probe) {
      if (!path.startsWith("/") || path.equals(METRICS) || probes.containsKey(path)) {
        throw new IllegalArgumentException("probe path " + path + " is taken or not a path");
      }
      probes.put(path, probe);
      return this;
    }
  }

  public static Routes routes(PrometheusMeterRegistry metrics) {
    return new Routes(metrics);
  }

  /**
   * Serves {@code routes} on {@code port} of every interface (0: a free port, see {@link #port()}).
   *
   * @throws IOException if the port cannot be bound (the message names it)
   */
  public static AdminServer start(int port, Routes routes) throws IOException {
    HttpServer http;
    try {
      http = HttpServer.create(new InetSocketAddress(port), 0);
    } catch (IOException e) {
      throw new IOException("cannot serve /metrics on port " + port + ": " + e.getMessage(), e);
    }
    ExecutorService threads =
        Executors.newFixedThreadPool(
            2,
            r -> {
              Thread t = new Thread(r, "admin-http");
              t.setDaemon(true);
              return t;
            });
    http.createContext(
        "/",
        exchange -> {
          try (exchange) {
            answer(exchange, routes);
          } catch (IOException e) {
            // The scraper or prober went away mid-answer: it asks again on its own schedule.
          }
        });
    http.setExecutor(threads);
    http.start();
    return new AdminServer(http, threads);
  }

  private static void answer(HttpExchange exchange, Routes routes) throws IOException {
    String method = exchange.getRequestMethod();
    if (!method.equals("GET") && !method.equals("HEAD")) {
      exchange.getResponseHeaders().set("Allow", "GET, HEAD");
      send(exchange, 405, "text/plain; charset=utf-8", "only GET and HEAD\n");
      return;
    }
    String path = exchange.getRequestURI().getPath();
    if (path.equals(METRICS)) {
      String accept = exchange.getRequestHeaders().getFirst("Accept");
      String type =
          accept != null && accept.contains("application/openmetrics-text")
              ? OPENMETRICS_TEXT
              : PROMETHEUS_TEXT;
      send(exchange, 200, type, routes.metrics.scrape(type));
      return;
    }
    Supplier<Health> probe = routes.probes.get(path);
    if (probe == null) {
      send(
          exchange,
          404,
          "text/plain; charset=utf-8",
          "no such path; this server has "
              + METRICS
              + (routes.probes.isEmpty() ? "" : " " + String.join(" ", routes.probes.keySet()))
              + "\n");
      return;
    }
    Health h;
    try {
      h = probe.get();
    } catch (RuntimeException e) {
      h = Health.failing("the probe itself failed: " + e);
    }
    send(exchange, h.ok() ? 200 : 503, "text/plain; charset=utf-8", h.detail() + "\n");
  }

  private static void send(HttpExchange exchange, int status, String type, String body)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", type);
    boolean head = exchange.getRequestMethod().equals("HEAD");
    exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
    if (!head) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(bytes);
      }
    }
  }

  public int port() {
    return http.getAddress().getPort();
  }

  @Override
  public void close() {
    http.stop(0);
    threads.shutdownNow();
  }
}
