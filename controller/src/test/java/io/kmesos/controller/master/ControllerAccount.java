package io.kmesos.controller.master;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.ServiceAccountTokens;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A client as the controller's ServiceAccount, with exactly the RBAC of
 * manifests/base/controller-rbac.yaml: a permission the manifests lack fails the tests.
 */
public final class ControllerAccount {
  public static final String NAMESPACE = "kmesos";

  private ControllerAccount() {}

  public static KubernetesClient client(LocalKubeApiServer server, KubernetesClient admin)
      throws Exception {
    new ServiceAccountTokens(admin).ensureServiceAccount(NAMESPACE, "kmesos-controller");
    apply(admin, Path.of("../manifests/base/controller-rbac.yaml"), NAMESPACE);
    return server.newClient(new ServiceAccountTokens(admin).token(NAMESPACE, "kmesos-controller"));
  }

  /** Server-side applies every object of {@code file}, namespaced ones into {@code namespace}. */
  static void apply(KubernetesClient admin, Path file, String namespace) throws Exception {
    try (InputStream in = Files.newInputStream(file)) {
      for (HasMetadata o : admin.load(in).items()) {
        boolean placed =
            o instanceof ClusterRole
                || o instanceof ClusterRoleBinding
                || o.getKind().equals("Namespace")
                || o.getMetadata().getNamespace() != null;
        (placed ? admin.resource(o) : admin.resource(o).inNamespace(namespace))
            .fieldManager("test")
            .forceConflicts()
            .serverSideApply();
      }
    }
  }
}
