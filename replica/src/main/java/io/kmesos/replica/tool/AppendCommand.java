package io.kmesos.replica.tool;

import io.kmesos.api.cli.Durations;
import io.kmesos.api.cli.Failures;
import io.kmesos.api.cli.VersionProvider;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.client.Writer;
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Becomes the log's writer and appends every line of standard input, pipelined; prints {@code
 * position<TAB>line} for each line once it is committed, in order. What it printed is what the log
 * acknowledged, which makes it a writer process that can be killed mid-stream in tests.
 */
@Command(
    name = "append",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description =
        "Elects a writer and appends each line of standard input; prints position<TAB>line once committed.")
final class AppendCommand implements Callable<Integer> {
  @Mixin PeersOption peers;

  @Option(
      names = "--in-flight",
      defaultValue = "1000",
      description = "Appends in flight at most (default: ${DEFAULT-VALUE}).")
  int inFlight;

  @Option(
      names = "--election-timeout",
      defaultValue = "30s",
      converter = Durations.class,
      paramLabel = "DURATION",
      description =
          "How long to keep trying to become the writer, waiting for replicas that are down or restarting "
              + "(default: ${DEFAULT-VALUE}).")
  Duration electionTimeout;

  @Option(
      names = "--append-timeout",
      defaultValue = "10s",
      converter = Durations.class,
      paramLabel = "DURATION",
      description =
          "A line not committed by a quorum within this fails the writer, and the command "
              + "(default: ${DEFAULT-VALUE}).")
  Duration appendTimeout;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    if (electionTimeout.isZero() || appendTimeout.isZero() || inFlight < 1) {
      throw new ParameterException(
          spec.commandLine(),
          "--election-timeout, --append-timeout and --in-flight must be positive");
    }
    PrintStream out =
        new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
    Writer.Settings settings =
        Writer.Settings.DEFAULT
            .withElectionDeadline(electionTimeout)
            .withAppendTimeout(appendTimeout)
            .quiet();
    try (Log log = peers.log();
        Writer writer = log.writer(settings)) {
      // The writer gives up at its own deadline, with the reason; the margin only bounds a hang.
      long ending = writer.elect().get(electionTimeout.toMillis() + 10_000, TimeUnit.MILLISECONDS);
      System.err.println("kmesos-log append: elected; the log ends at " + ending);
      BlockingQueue<Object[]> pending = new ArrayBlockingQueue<>(Math.max(1, inFlight));
      Thread printer =
          new Thread(
              () -> {
                try {
                  while (true) {
                    Object[] p = pending.take();
                    if (p.length == 0) {
                      return;
                    }
                    @SuppressWarnings("unchecked")
                    long position =
                        ((CompletableFuture<Long>) p[0])
                            .get(appendTimeout.toMillis() + 60_000, TimeUnit.MILLISECONDS);
                    out.println(position + "\t" + p[1]);
                  }
                } catch (Exception e) {
                  System.err.println(spec.qualifiedName() + ": " + Failures.oneLine(e));
                  System.exit(1);
                }
              },
              "append-printer");
      printer.start();
      BufferedReader in =
          new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      for (String line; (line = in.readLine()) != null; ) {
        pending.put(new Object[] {writer.append(line.getBytes(StandardCharsets.UTF_8)), line});
      }
      pending.put(new Object[0]);
      printer.join();
    }
    return 0;
  }
}
