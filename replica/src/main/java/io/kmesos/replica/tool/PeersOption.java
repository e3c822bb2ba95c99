package io.kmesos.replica.tool;

import java.util.Arrays;
import java.util.List;
import picocli.CommandLine.Option;

/** The replica set, as every subcommand takes it. */
public final class PeersOption {
  @Option(names = "--peers", paramLabel = "HOST:PORT,...",
      description = "Every replica of the log, in replica-ID order (in Kubernetes: the StatefulSet's DNS names). "
          + "Also read from $KMESOS_LOG_PEERS.", defaultValue = "${env:KMESOS_LOG_PEERS}")
  String peers;

  public List<String> list() {
    if (peers == null || peers.isBlank()) {
      throw new IllegalArgumentException("--peers is missing: name every replica of the log (or set $KMESOS_LOG_PEERS)");
    }
    return Arrays.stream(peers.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
  }
}
