package io.kmesos.controller.reconcile;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.regex.MatchResult;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Rewrites the field paths in a registry refusal (the registry names the fields of its operations,
 * e.g. {@code update_schedule.schedule.windows[0].machine_ids[1]}) into the fields of the resource
 * the operation was made from ({@code spec.windows[0].machines[1]}), so that a condition names what
 * the user wrote. Paths are rewritten wherever they appear in the message, most specific rule
 * first.
 */
final class RefusalPaths {
  private final List<Pattern> patterns = new ArrayList<>();
  private final List<Function<MatchResult, String>> replacements = new ArrayList<>();

  /**
   * {@code registryPath} is a regular expression; its groups are the indexes the replacement may
   * use.
   */
  RefusalPaths path(String registryPath, Function<MatchResult, String> resourcePath) {
    patterns.add(Pattern.compile("(?<![\\w.\\]])" + registryPath + "(?![\\w\\[])"));
    replacements.add(resourcePath);
    return this;
  }

  RefusalPaths path(String registryPath, String resourcePath) {
    return path(registryPath, m -> resourcePath);
  }

  String translate(String message) {
    String out = message;
    for (int i = 0; i < patterns.size(); i++) {
      Matcher m = patterns.get(i).matcher(out);
      Function<MatchResult, String> replacement = replacements.get(i);
      out = m.replaceAll(r -> Matcher.quoteReplacement(replacement.apply(r)));
    }
    return out;
  }

  static final RefusalPaths AGENT =
      new RefusalPaths()
          .path("(?:admit_agent|update_agent)\\.info\\.id", "metadata.uid")
          .path("(?:admit_agent|update_agent)\\.info\\.hostname", "spec.hostname")
          .path(
              "(?:admit_agent|update_agent)\\.info\\.resources(\\[[^\\]]*\\])?",
              m ->
                  "spec.resources"
                      + (m.group(1) == null
                          ? ""
                          : "." + m.group(1).substring(1, m.group(1).length() - 1)))
          .path("(?:admit_agent|update_agent)\\.info", "spec");

  static final RefusalPaths QUOTA =
      new RefusalPaths()
          .path("quota\\.role", "spec.role")
          .path("remove_quota\\.role", "spec.role")
          .path(
              "quota\\.(guarantees|limits)(\\[[^\\]]*\\])?",
              m ->
                  "spec."
                      + m.group(1)
                      + (m.group(2) == null
                          ? ""
                          : "." + m.group(2).substring(1, m.group(2).length() - 1)));

  static final RefusalPaths WEIGHT =
      new RefusalPaths()
          .path("update_weights\\.weights\\[0\\]\\.role", "spec.role")
          .path("update_weights\\.weights\\[0\\]\\.weight", "spec.weight")
          .path("update_weights\\.weights", "spec");

  /**
   * For a MaintenanceSchedule: its windows and machines map one to one onto the schedule's; the
   * machines of a start-maintenance operation are those of {@code spec.down} that were not yet
   * DOWN, {@code downIndexes.get(i)} being the index in {@code spec.down} of the operation's i-th.
   */
  static RefusalPaths schedule(List<Integer> downIndexes) {
    return new RefusalPaths()
        .path(
            "update_schedule\\.schedule\\.windows\\[(\\d+)\\]\\.machine_ids\\[(\\d+)\\]",
            m -> "spec.windows[" + m.group(1) + "].machines[" + m.group(2) + "]")
        .path(
            "update_schedule\\.schedule\\.windows\\[(\\d+)\\]\\.machine_ids",
            m -> "spec.windows[" + m.group(1) + "].machines")
        .path(
            "update_schedule\\.schedule\\.windows\\[(\\d+)\\]\\.unavailability\\.start",
            m -> "spec.windows[" + m.group(1) + "].start")
        .path(
            "update_schedule\\.schedule\\.windows\\[(\\d+)\\]\\.unavailability\\.duration",
            m -> "spec.windows[" + m.group(1) + "].durationSeconds")
        .path(
            "update_schedule\\.schedule\\.windows\\[(\\d+)\\]",
            m -> "spec.windows[" + m.group(1) + "]")
        .path("update_schedule\\.schedule\\.windows", "spec.windows")
        .path("update_schedule\\.schedule\\.name", "metadata.name")
        .path("update_schedule\\.schedule", "spec.windows")
        .path(
            "start_maintenance\\.machine_ids\\[(\\d+)\\]",
            m -> {
              int i = Integer.parseInt(m.group(1));
              return i < downIndexes.size() ? "spec.down[" + downIndexes.get(i) + "]" : "spec.down";
            })
        .path("start_maintenance\\.machine_ids", "spec.down")
        .path("stop_maintenance\\.machine_ids(\\[\\d+\\])?", "spec.down");
  }
}
