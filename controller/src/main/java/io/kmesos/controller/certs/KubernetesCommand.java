package io.kmesos.controller.certs;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.kmesos.api.cli.VersionProvider;
import io.kmesos.api.tls.ClusterCertificates;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
    name = "kubernetes",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Keeps the CA in the Secret kmesos-ca and a certificate per component in the TLS Secret "
          + "kmesos-<component>-tls (ca.crt, tls.crt, tls.key), in --namespace. Run by the install Job."
    })
final class KubernetesCommand implements Callable<Integer> {
  @Option(
      names = "--namespace",
      defaultValue = "${env:POD_NAMESPACE:-kmesos}",
      description = "Where the Secrets are (default: $POD_NAMESPACE, else kmesos).")
  String namespace;

  @Option(
      names = "--kubeconfig",
      paramLabel = "FILE",
      description = "Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster).")
  Path kubeconfig;

  @Mixin IssueOptions issue;

  @Override
  public Integer call() throws Exception {
    ClusterCertificates.Settings settings = issue.settings();
    try (KubernetesClient client =
        kubeconfig != null
            ? new KubernetesClientBuilder()
                .withConfig(Config.fromKubeconfig(Files.readString(kubeconfig)))
                .build()
            : new KubernetesClientBuilder().build()) {
      ClusterCertificates.ensure(new SecretStore(client, namespace), settings, Instant.now())
          .forEach(System.out::println);
    }
    return 0;
  }
}
