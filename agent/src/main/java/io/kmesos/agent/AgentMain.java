package io.kmesos.agent;

import io.kmesos.api.cli.VersionProvider;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code kmesos-agent}: the node daemon of a kmesos cluster (one per node, from a DaemonSet). */
@Command(name = "kmesos-agent", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
    description = "The kmesos agent: registers its node's Agent, runs tasks, checkpoints them under its work directory and recovers them after a restart.")
public final class AgentMain implements Runnable {
  @Spec CommandSpec spec;

  public static void main(String[] args) {
    System.exit(new CommandLine(new AgentMain()).execute(args));
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }
}
