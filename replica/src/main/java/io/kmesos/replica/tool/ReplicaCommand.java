package io.kmesos.replica.tool;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.kmesos.api.admin.AdminServer;
import io.kmesos.api.admin.ProcessMetrics;
import io.kmesos.api.cli.VersionProvider;
import io.kmesos.api.grpc.DisabledEndpoints;
import io.kmesos.replica.server.ReplicaServer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

@Command(
    name = "replica",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Runs one replica of the log until it is stopped (SIGTERM / Ctrl-C).",
      "If its storage or its core fails, it stops serving (gRPC health NOT_SERVING) and exits with status 1, "
          + "naming the cause."
    })
final class ReplicaCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin PeersOption peers;

  @Option(
      names = "--id",
      required = true,
      description = "This replica's index in --peers (0-based); it listens on that address.")
  int id;

  @Option(
      names = "--data-dir",
      required = true,
      description =
          "The replica's RocksDB directory (created if missing or empty; "
              + "anything else there is refused).")
  Path dataDir;

  @Option(
      names = "--cluster-id",
      defaultValue = "",
      description = "Refuse to serve data of any other log.")
  String clusterId;

  @Option(
      names = "--listen",
      defaultValue = "",
      paramLabel = "HOST:PORT",
      description =
          "Listen here instead of on this replica's address in --peers (e.g. 0.0.0.0:7001 in a pod).")
  String listen;

  @Option(
      names = "--disabled-endpoints",
      split = ",",
      paramLabel = "SERVICE/METHOD,...",
      description =
          "gRPC methods to refuse with PERMISSION_DENIED, as full names (e.g. kmesos.log.v1.Replica/Call).")
  List<String> disabledEndpoints = List.of();

  @Option(
      names = "--metrics-port",
      defaultValue = "0",
      paramLabel = "PORT",
      description =
          "Serve Prometheus metrics at http://<any address>:PORT/metrics; 0 for none (default: ${DEFAULT-VALUE}, "
              + "as several replicas often share a machine; the manifests use 8081).")
  int metricsPort;

  @Option(
      names = "--probe-port",
      defaultValue = "0",
      paramLabel = "PORT",
      description =
          "Also serve the gRPC health service, and nothing else, without TLS on this port, for Kubernetes' "
              + "grpc probes (which present no client certificate); 0 for none (default: ${DEFAULT-VALUE}; the manifests use 7002).")
  int probePort;

  @Override
  public Integer call() throws Exception {
    ReplicaServer.Config c = ReplicaServer.Config.of(id, peers.list(), dataDir);
    c =
        new ReplicaServer.Config(
            c.id(),
            c.peers(),
            c.dataDir(),
            clusterId,
            c.tick(),
            c.maxRequestAge(),
            c.queueLimit(),
            listen,
            disabled());
    for (int port : new int[] {metricsPort, probePort}) {
      if (port < 0 || port > 65535) {
        throw new ParameterException(
            spec.commandLine(),
            "--metrics-port and --probe-port take a port number (0 for none), " + "not " + port);
      }
    }
    // Without a port nothing is kept: a replica started that way loads no Prometheus code.
    var metrics = metricsPort == 0 ? null : ProcessMetrics.prometheus();
    ReplicaServer server =
        ReplicaServer.start(c, peers.tls.load(), metrics == null ? ProcessMetrics.none() : metrics);
    AdminServer admin = null;
    Server probes = null;
    try {
      admin = metrics == null ? null : AdminServer.start(metricsPort, AdminServer.routes(metrics));
      // Plaintext, and only the health service: Kubernetes' grpc probes present no client
      // certificate.
      probes =
          probePort == 0
              ? null
              : NettyServerBuilder.forPort(probePort)
                  .addService(server.healthService())
                  .build()
                  .start();
    } catch (IOException e) {
      if (admin != null) {
        admin.close();
      }
      server.close();
      throw e;
    }
    AdminServer adminServer = admin;
    Server probeServer = probes;
    CompletableFuture<String> stopped = new CompletableFuture<>();
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  stopped.complete(null);
                  if (adminServer != null) {
                    adminServer.close();
                  }
                  if (probeServer != null) {
                    probeServer.shutdownNow();
                  }
                  server.close();
                }));
    System.out.println(
        "kmesos-log replica "
            + id
            + " listening on "
            + (listen.isEmpty() ? peers.list().get(id) : listen)
            + ", data in "
            + dataDir
            + (admin == null ? "" : ", metrics on :" + admin.port() + "/metrics")
            + (probes == null ? "" : ", health probes on :" + probes.getPort()));
    // Runs until a signal (exit 0), or until the replica fails: then exit 1 naming the cause, so
    // that
    // Kubernetes restarts it instead of keeping a pod that answers nothing.
    server.failure().thenAccept(stopped::complete);
    String cause = stopped.get();
    if (cause != null) {
      throw new IllegalStateException("replica " + id + " stopped serving: " + cause);
    }
    return 0;
  }

  private DisabledEndpoints disabled() {
    try {
      return DisabledEndpoints.of(disabledEndpoints);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), "--disabled-endpoints: " + e.getMessage());
    }
  }
}
