package io.kmesos.registry.tool;

import io.kmesos.api.cli.VersionProvider;
import io.kmesos.api.registry.v1.Registry;
import io.kmesos.api.text.ReadableProto;
import io.kmesos.registry.RegistryContents;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.state.State;
import io.kmesos.replica.tool.PeersOption;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Prints the registry as committed, read from the log without disturbing its writer (the master).
 */
@Command(
    name = "show",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Prints the current registry, decoded from the .proto definitions.",
      "Reads what the replicas learned; never becomes the log's writer, so it is safe while a master runs."
    })
final class ShowCommand implements Callable<Integer> {
  @Mixin PeersOption peers;

  @Option(
      names = "--format",
      defaultValue = "yaml",
      description = "yaml or json (default: ${DEFAULT-VALUE}).")
  String format;

  @Override
  public Integer call() throws Exception {
    if (!format.equals("yaml") && !format.equals("json")) {
      throw new IllegalArgumentException("--format must be yaml or json, not '" + format + "'");
    }
    try (Log log = peers.log()) {
      State.Contents contents = State.read(log, Duration.ofSeconds(30));
      Registry registry = RegistryContents.of(contents.variables(), contents.sequence()).toProto();
      System.out.print(
          format.equals("json")
              ? ReadableProto.json(registry) + "\n"
              : ReadableProto.yaml(registry));
    }
    return 0;
  }
}
