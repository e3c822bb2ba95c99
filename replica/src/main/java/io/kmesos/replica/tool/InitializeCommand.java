package io.kmesos.replica.tool;

import io.kmesos.api.cli.VersionProvider;
import io.kmesos.replica.client.Log;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "initialize",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Makes every replica of a new log a voting member. Each must be EMPTY (or already voting in the "
          + "same log), and every replica must answer. Run it once, when the log is created: a replica that "
          + "later loses its data recovers from the others by itself. Run again on a log whose initialize "
          + "was cut short (fewer than a quorum voting, no entry written), it initializes the rest and says "
          + "so; on the log in use, it changes nothing and says so; on a log with entries but fewer than a "
          + "quorum voting (a majority lost its data), it refuses."
    })
final class InitializeCommand implements Callable<Integer> {
  @Mixin PeersOption peers;

  @Option(names = "--cluster-id", description = "The new log's ID (default: a random UUID).")
  String clusterId;

  @Override
  public Integer call() {
    String id = clusterId == null || clusterId.isBlank() ? UUID.randomUUID().toString() : clusterId;
    try (Log log = peers.log()) {
      log.initialize(id).forEach(System.out::println);
    }
    return 0;
  }
}
