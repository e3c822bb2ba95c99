package io.kmesos.api.cli;

import java.io.PrintWriter;
import picocli.CommandLine;

/**
 * The kmesos tools' way to fail: one line on stderr naming the subcommand and what went wrong,
 * and exit status 1, never a stack trace.
 */
public final class OneLineErrors {
  private OneLineErrors() {}

  public static CommandLine commandLine(Object command) {
    CommandLine cl = new CommandLine(command);
    cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
      PrintWriter err = cmd.getErr();
      Throwable cause = e.getCause() != null && e.getMessage() == null ? e.getCause() : e;
      err.println(cmd.getCommandSpec().qualifiedName() + ": "
          + (cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage()));
      err.flush();
      return 1;
    });
    return cl;
  }
}
