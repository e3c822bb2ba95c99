package io.kmesos.replica.tool;

import io.kmesos.api.cli.Durations;
import io.kmesos.api.tls.TlsOptions;
import io.kmesos.replica.client.Log;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The replica set, as every subcommand takes it, and the TLS certificate this process reaches it
 * with.
 */
public final class PeersOption {
  @Spec(Spec.Target.MIXEE)
  CommandSpec command;

  @Mixin public TlsOptions tls;

  @Option(
      names = "--peers",
      paramLabel = "HOST:PORT,...",
      description =
          "Every replica of the log, in replica-ID order (in Kubernetes: the StatefulSet's DNS names).",
      defaultValue = "${env:KMESOS_LOG_PEERS}")
  String peers;

  @Option(
      names = "--request-timeout",
      defaultValue = "2s",
      converter = Durations.class,
      paramLabel = "DURATION",
      description =
          "How long a status, read or initialize request waits for each replica (default: ${DEFAULT-VALUE}).")
  Duration requestTimeout;

  /** A client of the log these options name. */
  public Log log() {
    return new Log(list(), requestTimeout, tls.load());
  }

  public List<String> list() {
    if (peers == null || peers.isBlank()) {
      throw new ParameterException(
          command.commandLine(),
          "--peers is missing: name every replica of the log (or set $KMESOS_PEERS)");
    }
    return Arrays.stream(peers.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
  }

  /**
   * The replica that {@code replica} names: its index in --peers (0-based, as {@code replica --id})
   * or its address as listed there.
   */
  public int replica(String replica) {
    List<String> all = list();
    int index = all.indexOf(replica.trim());
    if (index < 0 && replica.trim().matches("\\d{1,9}")) {
      index = Integer.parseInt(replica.trim());
    }
    if (index < 0 || index >= all.size()) {
      throw new ParameterException(
          command.commandLine(),
          "--replica "
              + replica
              + " is not one of the "
              + all.size()
              + " replicas in --peers (an index 0.."
              + (all.size() - 1)
              + " or one of their addresses)");
    }
    return index;
  }
}
