package io.kmesos.replica.tool;

import io.kmesos.api.cli.VersionProvider;
import io.kmesos.replica.server.ReplicaServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "replica", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
    description = "Runs one replica of the log until it is stopped (SIGTERM / Ctrl-C).")
final class ReplicaCommand implements Callable<Integer> {
  @Mixin PeersOption peers;

  @Option(names = "--id", required = true, description = "This replica's index in --peers (0-based); it listens on that address.")
  int id;

  @Option(names = "--data-dir", required = true, description = "The replica's RocksDB directory (created if missing or empty; "
      + "anything else there is refused).")
  Path dataDir;

  @Option(names = "--cluster-id", defaultValue = "", description = "Refuse to serve data of any other log.")
  String clusterId;

  @Option(names = "--listen", defaultValue = "", paramLabel = "HOST:PORT",
      description = "Listen here instead of on this replica's address in --peers (e.g. 0.0.0.0:7001 in a pod).")
  String listen;

  @Override
  public Integer call() throws Exception {
    ReplicaServer.Config c = ReplicaServer.Config.of(id, peers.list(), dataDir);
    c = new ReplicaServer.Config(c.id(), c.peers(), c.dataDir(), clusterId, c.tick(), c.maxRequestAge(), c.queueLimit(),
        listen);
    ReplicaServer server = ReplicaServer.start(c, peers.tls.load());
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.close();
      stopped.countDown();
    }));
    System.out.println("kmesos-log replica " + id + " listening on " + (listen.isEmpty() ? peers.list().get(id) : listen)
        + ", data in " + dataDir);
    stopped.await();
    return 0;
  }
}
