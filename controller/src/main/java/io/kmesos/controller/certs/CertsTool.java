package io.kmesos.controller.certs;

import io.kmesos.api.cli.OneLineErrors;
import io.kmesos.api.cli.VersionProvider;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code kmesos-certs}: the cluster's certificate authority and the components' certificates, in
 * files or in Kubernetes Secrets. Safe to re-run: a CA that exists is kept, and a certificate is
 * issued again only when it must be (see {@code ClusterCertificates}), so the install Job and a
 * daily renewal CronJob run the same command.
 */
@Command(
    name = "kmesos-certs",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description =
        "Creates the kmesos CA and issues the components' mutual-TLS certificates (files or Kubernetes Secrets).",
    subcommands = {FilesCommand.class, KubernetesCommand.class})
public final class CertsTool implements Runnable {
  @Spec CommandSpec spec;

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  static CommandLine commandLine() {
    return OneLineErrors.commandLine(new CertsTool());
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }
}
