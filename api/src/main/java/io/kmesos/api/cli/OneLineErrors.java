package io.kmesos.api.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.function.UnaryOperator;
import picocli.CommandLine;

/**
 * The kmesos tools' way to fail: one line on stderr naming the subcommand and what went wrong
 * ({@link Failures#oneLine}), never a stack trace or a Java class name. A failure while running
 * exits with status 1; a bad flag or argument with status 2, pointing at {@code --help} instead of
 * printing the whole usage. Every option can also come from a {@code KMESOS_*} environment variable
 * ({@link EnvironmentDefaults}); a malformed one is named.
 */
public final class OneLineErrors {
  private OneLineErrors() {}

  public static CommandLine commandLine(Object command) {
    return commandLine(command, System::getenv);
  }

  /** As {@link #commandLine(Object)}, with {@code environment} in place of the process's. */
  public static CommandLine commandLine(Object command, UnaryOperator<String> environment) {
    CommandLine cl = new CommandLine(command);
    EnvironmentDefaults defaults = EnvironmentDefaults.install(cl, environment);
    cl.setExecutionExceptionHandler(
        (e, cmd, parsed) -> {
          PrintWriter err = cmd.getErr();
          err.println(cmd.getCommandSpec().qualifiedName() + ": " + Failures.oneLine(e));
          err.flush();
          return cmd.getCommandSpec().exitCodeOnExecutionException();
        });
    cl.setParameterExceptionHandler(
        (e, args) -> {
          CommandLine cmd = e.getCommandLine();
          PrintWriter err = cmd.getErr();
          String name = cmd.getCommandSpec().qualifiedName();
          String variable =
              e.getArgSpec() == null ? null : defaults.variableOf(e.getArgSpec(), args);
          String from = variable == null ? "" : "environment variable " + variable + ": ";
          err.println(name + ": " + from + Failures.oneLine(e) + " (see " + name + " --help)");
          err.flush();
          return cmd.getCommandSpec().exitCodeOnInvalidInput();
        });
    // Checked before any command runs (even --help): logback would log nothing with a bad format.
    CommandLine.IExecutionStrategy run = cl.getExecutionStrategy();
    cl.setExecutionStrategy(
        parsed -> {
          String problem = LogSettings.problem(environment);
          if (problem != null) {
            List<CommandLine> commands = parsed.asCommandLineList();
            throw new CommandLine.ParameterException(commands.get(commands.size() - 1), problem);
          }
          try {
            return run.execute(parsed);
          } catch (LinkageError e) {
            // A class or native library that cannot be loaded (RocksDB's library failing to unpack
            // into a read-only or full temporary directory): picocli hands Exceptions to the
            // handler above and lets Errors through to a stack trace. Other Errors (out of memory)
            // keep the JVM's report.
            List<CommandLine> commands = parsed.asCommandLineList();
            CommandLine cmd = commands.get(commands.size() - 1);
            cmd.getErr().println(cmd.getCommandSpec().qualifiedName() + ": " + Failures.oneLine(e));
            cmd.getErr().flush();
            return cmd.getCommandSpec().exitCodeOnExecutionException();
          }
        });
    return cl;
  }
}
