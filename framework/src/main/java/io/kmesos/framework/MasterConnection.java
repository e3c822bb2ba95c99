package io.kmesos.framework;

import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.ServerTrust;
import io.kmesos.api.tls.TlsSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The options of every command that talks to the master (a picocli mixin): where it is, how to
 * verify it, and the token to show it. Frameworks have no client certificate: the master knows them
 * by their ServiceAccount token.
 */
public final class MasterConnection {
  @Spec(Spec.Target.MIXEE)
  CommandSpec command;

  @Option(
      names = "--master",
      paramLabel = "HOST:PORT[,HOST:PORT...]",
      description =
          "The masters (the controllers' master port, 5050 by default), tried in turn; a standby "
              + "points to the leader.")
  String master;

  @Option(
      names = "--tls-dir",
      paramLabel = "DIR",
      description =
          "A directory holding ca.crt, the cluster's CA, which the master's certificate "
              + "(spiffe://kmesos/controller) must chain to.")
  Path tlsDir;

  @Option(
      names = "--tls-ca",
      paramLabel = "FILE",
      description = "The CA certificate(s) to trust, instead of DIR/ca.crt.")
  Path tlsCa;

  @Option(
      names = "--token-file",
      paramLabel = "FILE",
      defaultValue = "/var/run/secrets/kubernetes.io/serviceaccount/token",
      description =
          "The bearer token (a ServiceAccount token) shown to the master, read again on every "
              + "connection (default: ${DEFAULT-VALUE}).")
  Path tokenFile;

  /** The master addresses; a parameter error naming the problem. */
  public List<String> masters() {
    try {
      return MasterAddresses.parse(master);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(command.commandLine(), e.getMessage());
    }
  }

  /** The CA file the master is verified with. */
  public Path caFile() {
    if (tlsCa != null) {
      return tlsCa;
    }
    if (tlsDir == null || tlsDir.toString().isBlank()) {
      throw new ParameterException(
          command.commandLine(),
          "--tls-dir is missing: every connection to the master is TLS; name the directory of the "
              + "cluster's ca.crt (or give --tls-ca)");
    }
    if (!Files.isDirectory(tlsDir)) {
      throw new ParameterException(
          command.commandLine(), "--tls-dir " + tlsDir + " is not a directory");
    }
    return tlsDir.resolve(TlsSettings.CA_FILE);
  }

  /** Trust in the master, without a client certificate. */
  public ServerTrust serverTrust() {
    try {
      return ServerTrust.load(caFile(), Identity.CONTROLLER, TlsSettings.DEFAULT_RELOAD);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(command.commandLine(), e.getMessage());
    }
  }

  public Path tokenFile() {
    return tokenFile;
  }

  /** The TLS directory, if one was given (kmesos-state looks for an admin certificate there). */
  public Path tlsDir() {
    return tlsDir == null || tlsDir.toString().isBlank() ? null : tlsDir;
  }

  /** How long the first connection may take before a command gives up. */
  public static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(30);
}
