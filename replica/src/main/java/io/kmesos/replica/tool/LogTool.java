package io.kmesos.replica.tool;

import io.kmesos.api.cli.VersionProvider;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code kmesos-log}: the replicated log's command-line tool, in the spirit of {@code mesos-log}.
 * Its subcommands (initialize, replica, read, status, benchmark) are added with the log itself.
 */
@Command(name = "kmesos-log", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
    description = "The kmesos replicated log: multi-Paxos replicas on RocksDB, reached over gRPC. Stores the registry of a kmesos cluster, as Mesos stores its registry in its replicated log.")
public final class LogTool implements Runnable {
  @Spec CommandSpec spec;

  public static void main(String[] args) {
    System.exit(new CommandLine(new LogTool()).execute(args));
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }
}
