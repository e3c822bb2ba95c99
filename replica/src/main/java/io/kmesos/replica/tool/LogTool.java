package io.kmesos.replica.tool;

import io.kmesos.api.cli.OneLineErrors;
import io.kmesos.api.cli.VersionProvider;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code kmesos-log}: the replicated log's command-line tool, in the spirit of {@code mesos-log}.
 * Failures are one clear line on stderr and a non-zero exit, never a stack trace.
 */
@Command(
    name = "kmesos-log",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "The kmesos replicated log: multi-Paxos replicas on RocksDB, reached over gRPC.",
    subcommands = {
      ReplicaCommand.class,
      InitializeCommand.class,
      StatusCommand.class,
      ReadCommand.class,
      BenchmarkCommand.class,
      AppendCommand.class
    })
public final class LogTool implements Runnable {
  @Spec CommandSpec spec;

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  static CommandLine commandLine() {
    return OneLineErrors.commandLine(new LogTool());
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }
}
