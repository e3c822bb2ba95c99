package io.kmesos.devcluster;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestSpecBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;

/**
 * Mints real ServiceAccount tokens (TokenRequest) from a {@link LocalKubeApiServer} for tests: the
 * tokens a framework or an agent sends the master, signed by the API server's own key, so that
 * TokenReview accepts them exactly as in a cluster.
 *
 * <p>The tokens carry the API server's default audience (what a pod's default projected token at
 * {@code /var/run/secrets/kubernetes.io/serviceaccount/token} carries), unless audiences are given.
 * The namespace, the ServiceAccount, and for pod-bound tokens the Node and the Pod, are created
 * when absent; the Pod never runs (there is no kubelet): it only exists so that the token is bound
 * to it and names its node.
 */
public final class ServiceAccountTokens {
  /** How long tokens live unless told: long enough for any test, as short as the API allows. */
  public static final Duration DEFAULT_EXPIRY = Duration.ofHours(1);

  private final KubernetesClient admin;

  /** {@code admin} must be allowed to create namespaces, accounts, nodes, pods and tokens. */
  public ServiceAccountTokens(KubernetesClient admin) {
    this.admin = admin;
  }

  /** A token of {@code namespace/serviceAccount} with the API server's default audience. */
  public String token(String namespace, String serviceAccount) {
    return token(namespace, serviceAccount, List.of(), DEFAULT_EXPIRY);
  }

  /**
   * A token of {@code namespace/serviceAccount} for {@code audiences} (empty: the API server's
   * default) that expires after {@code expiry} (the API server accepts 10 minutes or more).
   */
  public String token(
      String namespace, String serviceAccount, List<String> audiences, Duration expiry) {
    ensureServiceAccount(namespace, serviceAccount);
    return admin
        .serviceAccounts()
        .inNamespace(namespace)
        .withName(serviceAccount)
        .tokenRequest(
            new TokenRequestBuilder()
                .withSpec(
                    new TokenRequestSpecBuilder()
                        .withAudiences(audiences)
                        .withExpirationSeconds(expiry.toSeconds())
                        .build())
                .build())
        .getStatus()
        .getToken();
  }

  /**
   * A token of {@code namespace/serviceAccount} bound to a Pod on {@code nodeName}, as the agent's
   * pod on that node gets it: TokenReview reports the node in the extra {@code
   * authentication.kubernetes.io/node-name} (Kubernetes 1.30 and later). The Node and the Pod
   * {@code <serviceAccount>-on-<nodeName>} are created when absent; deleting the Pod invalidates
   * the token.
   */
  public String podBoundToken(String namespace, String serviceAccount, String nodeName) {
    ensureServiceAccount(namespace, serviceAccount);
    if (admin.nodes().withName(nodeName).get() == null) {
      admin
          .nodes()
          .resource(new NodeBuilder().withNewMetadata().withName(nodeName).endMetadata().build())
          .create();
    }
    String podName = serviceAccount + "-on-" + nodeName;
    Pod pod = admin.pods().inNamespace(namespace).withName(podName).get();
    if (pod == null) {
      pod =
          admin
              .pods()
              .inNamespace(namespace)
              .resource(
                  new PodBuilder()
                      .withNewMetadata()
                      .withName(podName)
                      .endMetadata()
                      .withNewSpec()
                      .withServiceAccountName(serviceAccount)
                      .withNodeName(nodeName)
                      .addNewContainer()
                      .withName("never-runs")
                      .withImage("kmesos:test")
                      .endContainer()
                      .endSpec()
                      .build())
              .create();
    }
    return admin
        .serviceAccounts()
        .inNamespace(namespace)
        .withName(serviceAccount)
        .tokenRequest(
            new TokenRequestBuilder()
                .withNewSpec()
                .withAudiences(List.of())
                .withExpirationSeconds(DEFAULT_EXPIRY.toSeconds())
                .withNewBoundObjectRef()
                .withApiVersion("v1")
                .withKind("Pod")
                .withName(pod.getMetadata().getName())
                .withUid(pod.getMetadata().getUid())
                .endBoundObjectRef()
                .endSpec()
                .build())
        .getStatus()
        .getToken();
  }

  /** Creates {@code namespace} and the ServiceAccount in it unless they exist. */
  public void ensureServiceAccount(String namespace, String serviceAccount) {
    if (admin.namespaces().withName(namespace).get() == null) {
      admin
          .namespaces()
          .resource(
              new NamespaceBuilder().withNewMetadata().withName(namespace).endMetadata().build())
          .create();
    }
    if (admin.serviceAccounts().inNamespace(namespace).withName(serviceAccount).get() == null) {
      admin
          .serviceAccounts()
          .inNamespace(namespace)
          .resource(
              new ServiceAccountBuilder()
                  .withNewMetadata()
                  .withName(serviceAccount)
                  .endMetadata()
                  .build())
          .create();
    }
  }
}
