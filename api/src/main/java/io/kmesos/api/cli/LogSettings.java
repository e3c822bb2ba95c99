package io.kmesos.api.cli;

import java.util.Locale;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * The logging every kmesos process shares (logback.xml in this module): {@code KMESOS_LOG_LEVEL}
 * (TRACE, DEBUG, INFO, WARN, ERROR or OFF; default INFO) and {@code KMESOS_LOG_FORMAT} ({@code
 * text} or {@code json}: one JSON object a line). Logback reads them itself, as environment
 * variables or as -D system properties, and would silently log nothing for an unknown format: every
 * command checks them first.
 */
public final class LogSettings {
  public static final String LEVEL = "KMESOS_LOG_LEVEL";
  public static final String FORMAT = "KMESOS_LOG_FORMAT";

  private static final Set<String> LEVELS =
      Set.of("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF");
  private static final Set<String> FORMATS = Set.of("text", "json");

  private LogSettings() {}

  /** What is wrong with the logging settings in {@code environment} (or -D properties), or null. */
  public static String problem(UnaryOperator<String> environment) {
    String level = setting(LEVEL, environment);
    if (level != null && !LEVELS.contains(level.toUpperCase(Locale.ROOT))) {
      return LEVEL + " is '" + level + "'; it must be one of TRACE, DEBUG, INFO, WARN, ERROR, OFF";
    }
    String format = setting(FORMAT, environment);
    if (format != null && !FORMATS.contains(format)) {
      return FORMAT + " is '" + format + "'; it must be text or json";
    }
    return null;
  }

  /** As logback looks it up: a system property first, then the environment. */
  private static String setting(String name, UnaryOperator<String> environment) {
    String value = System.getProperty(name);
    return value != null ? value : environment.apply(name);
  }
}
