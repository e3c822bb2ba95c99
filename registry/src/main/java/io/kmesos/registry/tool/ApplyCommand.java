package io.kmesos.registry.tool;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import com.google.protobuf.util.Timestamps;
import io.kmesos.api.KmesosVersion;
import io.kmesos.api.cli.Failures;
import io.kmesos.api.cli.VersionProvider;
import io.kmesos.api.registry.v1.MasterInfo;
import io.kmesos.api.registry.v1.Operation;
import io.kmesos.registry.OperationRefusedException;
import io.kmesos.registry.Registrar;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.state.State;
import io.kmesos.replica.tool.PeersOption;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Becomes the registrar and applies operations, one JSON object per line (protobuf's JSON form of
 * {@code kmesos.registry.v1.Operation}), all in flight at once so that they share batches. Prints
 * one line per operation as it completes: its line number and changed, unchanged or refused.
 */
@Command(
    name = "apply",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Applies registry operations as the master's registrar would (JSON lines from a file or stdin), e.g.",
      "  {\"admitAgent\": {\"info\": {\"id\": \"a1\", \"hostname\": \"node-1\", \"resources\": {\"cpus\": 4}}}}",
      "Prints <line>TAB<changed|unchanged|refused: why> as each completes.",
      "It becomes the log's writer: a running master is deposed (its next store fails). For operators "
          + "repairing a registry without a controller, and for tests."
    })
final class ApplyCommand implements Callable<Integer> {
  @Mixin PeersOption peers;

  @Option(
      names = {"-f", "--file"},
      description = "Operations, one JSON object per line (default: stdin).")
  Path file;

  @Option(
      names = "--master-id",
      description = "The ID to record as the leading master (default: a new one).")
  String masterId;

  @Override
  public Integer call() throws Exception {
    MasterInfo master =
        MasterInfo.newBuilder()
            .setId(masterId != null ? masterId : "kmesos-registry-" + UUID.randomUUID())
            .setHostname(InetAddress.getLocalHost().getHostName())
            .setVersion(KmesosVersion.version())
            .setElectedAt(Timestamps.fromMillis(System.currentTimeMillis()))
            .build();
    AtomicInteger failed = new AtomicInteger();
    try (Log log = peers.log();
        Registrar registrar = Registrar.start(log, master, State.Settings.DEFAULT);
        BufferedReader in =
            file != null
                ? Files.newBufferedReader(file)
                : new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      List<CompletableFuture<Boolean>> all = new ArrayList<>();
      int lineNo = 0;
      for (String line; (line = in.readLine()) != null; ) {
        if (registrar.failure() != null) {
          break; // superseded, or the log lost its quorum: nothing more can be stored
        }
        lineNo++;
        if (line.isBlank() || line.startsWith("#")) {
          continue;
        }
        Operation.Builder op = Operation.newBuilder();
        try {
          JsonFormat.parser().merge(line, op);
        } catch (InvalidProtocolBufferException e) {
          throw new IllegalArgumentException(
              "line " + lineNo + " is not an operation: " + e.getMessage());
        }
        int n = lineNo;
        all.add(
            registrar
                .apply(op.build())
                .whenComplete(
                    (changed, error) -> {
                      Throwable why = error == null ? null : State.unwrap(error);
                      String result =
                          why == null
                              ? (changed ? "changed" : "unchanged")
                              : (why instanceof OperationRefusedException
                                      ? "refused: "
                                      : "failed: ")
                                  + Failures.oneLine(why);
                      if (why != null && !(why instanceof OperationRefusedException)) {
                        failed.incrementAndGet();
                      }
                      synchronized (System.out) {
                        System.out.println(n + "\t" + result);
                        System.out.flush();
                      }
                    }));
      }
      CompletableFuture.allOf(all.toArray(CompletableFuture[]::new))
          .exceptionally(e -> null)
          .join();
      if (registrar.failure() != null) {
        throw new IllegalStateException(
            "the registrar stopped: " + Failures.oneLine(registrar.failure()));
      }
      System.err.println("registry version " + registrar.version());
    }
    return failed.get() == 0 ? 0 : 1;
  }
}
