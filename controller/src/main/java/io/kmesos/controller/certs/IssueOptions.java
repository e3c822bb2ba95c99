package io.kmesos.controller.certs;

import io.kmesos.api.tls.ClusterCertificates;
import io.kmesos.api.tls.Identity;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** What to issue, as both subcommands take it. */
final class IssueOptions {
  @Spec(Spec.Target.MIXEE)
  CommandSpec command;

  @Option(
      names = "--component",
      split = ",",
      paramLabel = "NAME",
      defaultValue = "replica,controller,admin",
      description =
          "The components to issue a certificate for: replica, controller, admin, agent, framework "
              + "(default: ${DEFAULT-VALUE}).")
  List<String> components;

  @Option(
      names = "--host",
      paramLabel = "COMPONENT=HOST",
      description =
          "A DNS name or IP address a component is reached "
              + "at, put in its certificate for clients that check host names (kmesos's own check the identity); repeatable.")
  List<String> hosts = new ArrayList<>();

  @Option(
      names = "--validity",
      defaultValue = "720h",
      paramLabel = "HOURS",
      converter = Hours.class,
      description =
          "How long a new certificate is valid, in hours (default: ${DEFAULT-VALUE}, 30 days); a certificate "
              + "in the last third of its life is issued again.")
  Duration validity;

  @Option(
      names = "--ca-validity",
      defaultValue = "87600h",
      paramLabel = "HOURS",
      converter = Hours.class,
      description = "How long a new CA is valid, in hours (default: ${DEFAULT-VALUE}, 10 years).")
  Duration caValidity;

  @Option(
      names = "--renew",
      description = "Issue every certificate anew, even those still good (the CA is kept).")
  boolean renew;

  /** The validated settings; a one-line parameter error otherwise. */
  ClusterCertificates.Settings settings() {
    try {
      List<Identity> identities = new ArrayList<>();
      for (String c : components) {
        Identity i = Identity.ofComponent(c);
        if (!identities.contains(i)) {
          identities.add(i);
        }
      }
      Map<Identity, List<String>> byComponent = new HashMap<>();
      for (String h : hosts) {
        int eq = h.indexOf('=');
        if (eq <= 0 || eq == h.length() - 1) {
          throw new IllegalArgumentException(
              "--host "
                  + h
                  + " is not COMPONENT=HOST (e.g. replica=kmesos-replica-0.kmesos-replica)");
        }
        Identity i = Identity.ofComponent(h.substring(0, eq));
        if (!identities.contains(i)) {
          throw new IllegalArgumentException(
              "--host " + h + " names " + i.component() + ", which --component does not include");
        }
        byComponent.computeIfAbsent(i, k -> new ArrayList<>()).add(h.substring(eq + 1).trim());
      }
      return new ClusterCertificates.Settings(identities, byComponent, caValidity, validity, renew);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(command.commandLine(), e.getMessage());
    }
  }

  /**
   * Whole hours ("720h" or "720"): certificates live for days, not the seconds {@code Durations} is
   * made for.
   */
  static final class Hours implements picocli.CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      String v =
          value.trim().endsWith("h")
              ? value.trim().substring(0, value.trim().length() - 1)
              : value.trim();
      if (!v.matches("\\d{1,7}") || Long.parseLong(v) == 0) {
        throw new picocli.CommandLine.TypeConversionException(
            "'" + value + "' is not a number of hours like 720h");
      }
      return Duration.ofHours(Long.parseLong(v));
    }
  }
}
