package io.kmesos.api.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.UnaryOperator;
import picocli.CommandLine;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Every option of every kmesos command can also come from the environment, as Mesos reads {@code
 * MESOS_*}: {@code --data-dir} from {@code KMESOS_DATA_DIR}, {@code --peers} from {@code
 * KMESOS_PEERS}. An option given on the command line wins over the environment; the environment
 * wins over the option's built-in default. In a pod this keeps the command line short and lets a
 * ConfigMap or the downward API set any option.
 *
 * <p>A required option set in the environment is satisfied by it. A malformed value is reported
 * naming the variable (see {@link #variableOf}), so a user knows where to look.
 */
public final class EnvironmentDefaults implements IDefaultValueProvider {
  public static final String PREFIX = "KMESOS_";

  /** What {@code --help} says under every command. */
  public static final String HELP_FOOTER =
      "%nEvery option can also be set with an environment variable: KMESOS_ and its "
          + "name in capitals, dashes as underscores (--data-dir as KMESOS_DATA_DIR). An option on the command line wins.";

  private final UnaryOperator<String> environment;

  /** The variable each option's default came from, to name it when its value is malformed. */
  private final Map<ArgSpec, String> supplied = new HashMap<>();

  EnvironmentDefaults(UnaryOperator<String> environment) {
    this.environment = environment;
  }

  /** The variable an option reads: {@code --data-dir} → {@code KMESOS_DATA_DIR}. */
  public static String variable(OptionSpec option) {
    String name = option.longestName().replaceFirst("^-+", "");
    return PREFIX + name.toUpperCase(Locale.ROOT).replace('-', '_');
  }

  /**
   * Installs the environment as default for every option of {@code cl} and its subcommands (except
   * --help and --version), adds the help footer, and lets a required option be satisfied by its
   * variable.
   */
  static EnvironmentDefaults install(CommandLine cl, UnaryOperator<String> environment) {
    EnvironmentDefaults defaults = new EnvironmentDefaults(environment);
    install(cl.getCommandSpec(), defaults);
    cl.setDefaultValueProvider(defaults); // on the whole hierarchy of subcommands
    return defaults;
  }

  private static void install(CommandSpec spec, EnvironmentDefaults defaults) {
    List<OptionSpec> requiredButSet = new ArrayList<>();
    for (OptionSpec option : spec.options()) {
      if (option.required()
          && !option.usageHelp()
          && !option.versionHelp()
          && defaults.valueOf(option) != null) {
        requiredButSet.add(option);
      }
    }
    for (OptionSpec option : requiredButSet) {
      // picocli counts only the command line for a required option: the variable satisfies it too.
      spec.remove(option);
      spec.addOption(option.toBuilder().required(false).build());
    }
    String[] footer = spec.usageMessage().footer();
    String[] withEnv = Arrays.copyOf(footer, footer.length + 1);
    withEnv[footer.length] = HELP_FOOTER;
    spec.usageMessage().footer(withEnv);
    for (CommandLine sub : spec.subcommands().values()) {
      install(sub.getCommandSpec(), defaults);
    }
  }

  /**
   * Takes the option variables out of a child process's environment ({@code
   * ProcessBuilder.environment()}), keeping {@link LogSettings}'s: a launcher (kmesos-local, tests)
   * gives its children every option they need on their command line, and a variable meant for the
   * launcher must not reach them.
   */
  public static void removeOptions(Map<String, String> childEnvironment) {
    childEnvironment
        .keySet()
        .removeIf(
            name ->
                name.startsWith(PREFIX)
                    && !name.equals(LogSettings.LEVEL)
                    && !name.equals(LogSettings.FORMAT));
  }

  @Override
  public String defaultValue(ArgSpec arg) {
    if (!(arg instanceof OptionSpec option) || option.usageHelp() || option.versionHelp()) {
      return null; // positional parameters and --help/--version are never read from the environment
    }
    String value = valueOf(option);
    if (value == null) {
      return null;
    }
    supplied.put(arg, variable(option));
    return value;
  }

  private String valueOf(OptionSpec option) {
    return environment.apply(variable(option));
  }

  /**
   * The variable {@code arg}'s value came from, or null if it came from the command line (its names
   * appear in {@code args}) or from its built-in default.
   */
  String variableOf(ArgSpec arg, String[] args) {
    String variable = supplied.get(arg);
    if (variable == null || !(arg instanceof OptionSpec option)) {
      return null;
    }
    for (String a : args) {
      for (String name : option.names()) {
        if (a.equals(name) || a.startsWith(name + "=")) {
          return null;
        }
      }
    }
    return variable;
  }
}
