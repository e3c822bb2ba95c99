package io.kmesos.registry.tool;

import io.kmesos.api.cli.OneLineErrors;
import io.kmesos.api.cli.VersionProvider;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code kmesos-registry}: reads the registry stored in the replicated log, applies operations to
 * it, and benchmarks the registrar. Failures are one clear line on stderr and a non-zero exit.
 */
@Command(
    name = "kmesos-registry",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description =
        "The kmesos registry (leading master, agents, machines, maintenance schedules, quotas, weights) "
            + "on the replicated log.",
    subcommands = {ShowCommand.class, ApplyCommand.class, BenchmarkCommand.class})
public final class RegistryTool implements Runnable {
  @Spec CommandSpec spec;

  public static void main(String[] args) {
    System.exit(OneLineErrors.commandLine(new RegistryTool()).execute(args));
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }
}
