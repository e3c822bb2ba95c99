package io.kmesos.api.cli;

import java.io.PrintWriter;
import picocli.CommandLine;

/**
 * The kmesos tools' way to fail: one line on stderr naming the subcommand and what went wrong
 * ({@link Failures#oneLine}), never a stack trace or a Java class name. A failure while running
 * exits with status 1; a bad flag or argument with status 2, pointing at {@code --help} instead of
 * printing the whole usage.
 */
public final class OneLineErrors {
  private OneLineErrors() {}

  public static CommandLine commandLine(Object command) {
    CommandLine cl = new CommandLine(command);
    cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
      PrintWriter err = cmd.getErr();
      err.println(cmd.getCommandSpec().qualifiedName() + ": " + Failures.oneLine(e));
      err.flush();
      return cmd.getCommandSpec().exitCodeOnExecutionException();
    });
    cl.setParameterExceptionHandler((e, args) -> {
      CommandLine cmd = e.getCommandLine();
      PrintWriter err = cmd.getErr();
      String name = cmd.getCommandSpec().qualifiedName();
      err.println(name + ": " + Failures.oneLine(e) + " (see " + name + " --help)");
      err.flush();
      return cmd.getCommandSpec().exitCodeOnInvalidInput();
    });
    return cl;
  }
}
