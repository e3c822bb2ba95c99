package io.kmesos.devcluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.net.URI;
import java.time.ZonedDateTime;
import org.junit.jupiter.api.Test;

/**
 * The fixture is a real API server: real versions, real optimistic concurrency, real server-side
 * apply.
 */
@WithKubeApiServer
class LocalKubeApiServerIT {

  @Test
  void servesTheBuiltKubernetesReleaseOnLoopback(
      LocalKubeApiServer server, KubernetesClient client) {
    assertThat(URI.create(server.url()).getHost()).isEqualTo("127.0.0.1");
    assertThat(client.getKubernetesVersion().getGitVersion())
        .isEqualTo("v" + LocalKubeApiServer.KUBE_VERSION);
    assertThat(client.namespaces().withName("default").get()).isNotNull();
  }

  @Test
  void leaseUpdateWithStaleResourceVersionGets409(KubernetesClient client) {
    var leases = client.leases().inNamespace("default");
    Lease created =
        leases
            .resource(
                new LeaseBuilder()
                    .withNewMetadata()
                    .withName("kmesos-master")
                    .endMetadata()
                    .withNewSpec()
                    .withHolderIdentity("controller-a")
                    .withLeaseDurationSeconds(15)
                    .withAcquireTime(ZonedDateTime.now())
                    .withRenewTime(ZonedDateTime.now())
                    .endSpec()
                    .build())
            .create();
    String staleVersion = created.getMetadata().getResourceVersion();

    // controller-a renews: an update with the current resourceVersion succeeds and bumps it.
    Lease renewed =
        leases
            .resource(
                new LeaseBuilder(created)
                    .editSpec()
                    .withRenewTime(ZonedDateTime.now().plusSeconds(2))
                    .endSpec()
                    .build())
            .update();
    assertThat(renewed.getMetadata().getResourceVersion()).isNotEqualTo(staleVersion);

    // controller-b took its snapshot before the renewal: its takeover must be refused.
    Lease takeover =
        new LeaseBuilder(created).editSpec().withHolderIdentity("controller-b").endSpec().build();
    assertThatThrownBy(() -> leases.resource(takeover).update())
        .isInstanceOfSatisfying(
            KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(409));
    assertThat(leases.withName("kmesos-master").get().getSpec().getHolderIdentity())
        .isEqualTo("controller-a");
  }

  @Test
  void serverSideApplyOfAnUnchangedObjectIsANoOp(KubernetesClient client) {
    ConfigMap desired =
        new ConfigMapBuilder()
            .withNewMetadata()
            .withName("ssa")
            .withNamespace("default")
            .endMetadata()
            .addToData("registry", "replicated-log")
            .build();
    ConfigMap first = client.resource(desired).fieldManager("gitops").serverSideApply();
    ConfigMap second = client.resource(desired).fieldManager("gitops").serverSideApply();
    assertThat(second.getMetadata().getResourceVersion())
        .isEqualTo(first.getMetadata().getResourceVersion());

    ConfigMap changed =
        client
            .resource(new ConfigMapBuilder(desired).addToData("registry", "rocksdb").build())
            .fieldManager("gitops")
            .serverSideApply();
    assertThat(changed.getMetadata().getResourceVersion())
        .isNotEqualTo(first.getMetadata().getResourceVersion());
    assertThat(changed.getData()).containsEntry("registry", "rocksdb");
  }

  @Test
  void eachServerHasItsOwnEtcd(KubernetesClient client) {
    client
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName("only-here")
                .withNamespace("default")
                .endMetadata()
                .build())
        .create();
    try (LocalKubeApiServer other = LocalKubeApiServer.start()) {
      assertThat(other.newClient().configMaps().inNamespace("default").withName("only-here").get())
          .isNull();
    }
    assertThat(client.configMaps().inNamespace("default").withName("only-here").get()).isNotNull();
  }
}
