package io.kmesos.framework.state;

import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.kmesos.api.cli.Durations;
import io.kmesos.api.cli.Failures;
import io.kmesos.api.cli.OneLineErrors;
import io.kmesos.api.cli.VersionProvider;
import io.kmesos.api.operator.v1.GetStateRequest;
import io.kmesos.api.operator.v1.GetStateResponse;
import io.kmesos.api.operator.v1.OperatorGrpc;
import io.kmesos.api.text.ReadableProto;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.api.tls.ServerTrust;
import io.kmesos.api.tls.TlsSettings;
import io.kmesos.framework.Backoff;
import io.kmesos.framework.BearerToken;
import io.kmesos.framework.LeaderHint;
import io.kmesos.framework.MasterConnection;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code kmesos-state}: the leading master's view of frameworks, agents, tasks and outstanding
 * offers (Operator.GetState), as tables or YAML. It authenticates with an admin client certificate
 * when {@code --tls-dir} holds one (tls.crt, tls.key: spiffe://kmesos/admin), and with the bearer
 * token when its file is readable; the master accepts either.
 */
@Command(
    name = "kmesos-state",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    sortOptions = false,
    description =
        "Prints what the leading master knows now: frameworks, agents, tasks and outstanding offers.")
public final class StateCommand implements Callable<Integer> {
  enum Format {
    table,
    yaml
  }

  @Spec CommandSpec spec;

  @Mixin MasterConnection connection;

  @Option(
      names = {"-o", "--output"},
      defaultValue = "table",
      description = "table or yaml (default: ${DEFAULT-VALUE}).")
  Format output;

  @Option(
      names = "--timeout",
      defaultValue = "30s",
      converter = Durations.class,
      description =
          "How long to keep trying to reach the leading master (default: ${DEFAULT-VALUE}).")
  Duration timeout;

  public static void main(String[] args) {
    System.exit(OneLineErrors.commandLine(new StateCommand()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    List<String> masters = connection.masters();
    Path dir = connection.tlsDir();
    boolean adminCert =
        dir != null
            && Files.isRegularFile(dir.resolve(TlsSettings.CERT_FILE))
            && Files.isRegularFile(dir.resolve(TlsSettings.KEY_FILE));
    Path tokenFile = connection.tokenFile();
    BearerToken token = null;
    if (tokenFile != null && Files.isReadable(tokenFile)) {
      try {
        token = BearerToken.read(tokenFile);
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), e.getMessage());
      }
    } else if (!adminCert) {
      throw new ParameterException(
          spec.commandLine(),
          "no credentials: the token file "
              + tokenFile
              + " is not readable (--token-file) and --tls-dir holds no admin certificate"
              + " (tls.crt, tls.key)");
    }
    GetStateResponse state;
    if (adminCert) {
      try (MutualTls tls = load(TlsSettings.fromDirectory(dir))) {
        state = getState(masters, tls.channelCredentials(Identity.CONTROLLER), token);
      }
    } else {
      try (ServerTrust trust = connection.serverTrust()) {
        state = getState(masters, trust.channelCredentials(), token);
      }
    }
    PrintWriter out = spec.commandLine().getOut();
    out.print(output == Format.yaml ? ReadableProto.yaml(state) : StateTables.format(state));
    out.flush();
    return 0;
  }

  private MutualTls load(TlsSettings settings) {
    try {
      return MutualTls.load(settings);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
  }

  /**
   * Asks the masters in turn, following a standby's {@code kmesos-leader} hint, backing off between
   * rounds, until one answers or {@code timeout} passes.
   */
  GetStateResponse getState(List<String> masters, ChannelCredentials credentials, BearerToken token)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    Backoff backoff = new Backoff();
    List<String> failures = new ArrayList<>();
    while (true) {
      List<String> round = new ArrayList<>(masters);
      failures.clear();
      for (int i = 0; i < round.size(); i++) {
        String address = round.get(i);
        ManagedChannel channel = Grpc.newChannelBuilder(address, credentials).build();
        try {
          OperatorGrpc.OperatorBlockingStub stub =
              OperatorGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
          if (token != null) {
            stub = stub.withCallCredentials(token);
          }
          return stub.getState(GetStateRequest.getDefaultInstance());
        } catch (StatusRuntimeException e) {
          failures.add(address + ": " + Failures.reason(e, Duration.ofSeconds(10)));
          switch (e.getStatus().getCode()) {
            case UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT, UNIMPLEMENTED ->
                throw new IllegalStateException(
                    "the master at " + address + " refused: " + Failures.reason(e, null));
            default -> {}
          }
          String hint = LeaderHint.of(e);
          if (hint != null && !round.subList(0, i + 1).contains(hint)) {
            round.remove(hint);
            round.add(i + 1, hint);
          }
        } finally {
          channel.shutdownNow();
        }
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "no leading master answered within "
                + timeout.toSeconds()
                + " s: "
                + String.join("; ", failures));
      }
      Thread.sleep(backoff.next().toMillis());
    }
  }
}
