package io.kmesos.controller.certs;

import io.kmesos.api.cli.VersionProvider;
import io.kmesos.api.tls.CertificateDirectory;
import io.kmesos.api.tls.ClusterCertificates;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "files",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Keeps a CA in DIR/ca and a certificate per component in DIR/<component> (ca.crt, tls.crt, tls.key: "
          + "pass DIR/<component> as that component's --tls-dir)."
    })
final class FilesCommand implements Callable<Integer> {
  @Option(
      names = "--dir",
      required = true,
      paramLabel = "DIR",
      description = "Where the CA and the certificates are.")
  Path dir;

  @Mixin IssueOptions issue;

  @Override
  public Integer call() {
    ClusterCertificates.Settings settings = issue.settings();
    ClusterCertificates.ensure(new CertificateDirectory(dir), settings, Instant.now())
        .forEach(System.out::println);
    return 0;
  }
}
