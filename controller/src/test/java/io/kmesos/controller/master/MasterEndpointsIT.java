package io.kmesos.controller.master;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.ManagedFieldsEntry;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.WithKubeApiServer;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The leader's Service and EndpointSlice against a real kube-apiserver, written as the controller's
 * ServiceAccount with the manifests' RBAC, and read back the way kube-proxy and cluster DNS find a
 * Service's endpoints: the EndpointSlices labelled with its name.
 */
@WithKubeApiServer
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MasterEndpointsIT {
  static final String NS = ControllerAccount.NAMESPACE;

  KubernetesClient admin;
  KubernetesClient controller;

  @BeforeAll
  void install(LocalKubeApiServer server, KubernetesClient admin) throws Exception {
    this.admin = admin;
    this.controller = ControllerAccount.client(server, admin);
  }

  @Test
  void theLeaderPublishesItselfAndANewLeaderReplacesIt() {
    new MasterEndpoints(controller, NS).publish("10.1.2.3", 5050);

    Service service = admin.services().inNamespace(NS).withName("kmesos-master").get();
    assertThat(service.getSpec().getSelector())
        .as("no selector: the leader is the Lease's")
        .isNullOrEmpty();
    assertThat(service.getSpec().getPorts())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.getName()).isEqualTo("grpc");
              assertThat(p.getPort()).isEqualTo(5050);
            });
    assertThat(service.getSpec().getClusterIP()).as("a ClusterIP kube-proxy routes").isNotBlank();
    assertThat(endpoints()).containsExactly("10.1.2.3:5050");

    // Again, as after a restart of the same leader: nothing changes.
    Map<String, String> versions = versions();
    new MasterEndpoints(controller, NS).publish("10.1.2.3", 5050);
    assertThat(versions()).isEqualTo(versions);

    // Someone else labels the Service (an operator, GitOps): their field, kept by every publish.
    admin
        .services()
        .inNamespace(NS)
        .resource(
            new ServiceBuilder()
                .withNewMetadata()
                .withName("kmesos-master")
                .withNamespace(NS)
                .addToLabels("team", "platform")
                .endMetadata()
                .build())
        .fieldManager("ops")
        .serverSideApply();

    // A new leader, from another controller process.
    new MasterEndpoints(controller, NS).publish("10.1.2.4", 5050);

    assertThat(endpoints()).containsExactly("10.1.2.4:5050");
    service = admin.services().inNamespace(NS).withName("kmesos-master").get();
    assertThat(service.getMetadata().getLabels()).containsEntry("team", "platform");
    assertThat(ours(service))
        .as("the leader owns what it sets, not the API server's defaults nor others' labels")
        .contains("f:ports", "f:app.kubernetes.io/name")
        .doesNotContain("f:team", "f:clusterIP", "f:type", "f:sessionAffinity");
  }

  @Test
  void ipv6AndHostnamesArePublishedWithTheirAddressTypeAndReplaceOtherTypes() {
    MasterEndpoints endpoints = new MasterEndpoints(controller, NS);

    endpoints.publish("[FD00:0:0::5]", 5051);
    assertThat(slices())
        .singleElement()
        .satisfies(s -> assertThat(s.getAddressType()).isEqualTo("IPv6"));
    assertThat(endpoints()).containsExactly("fd00::5:5051");
    assertThat(
            admin
                .services()
                .inNamespace(NS)
                .withName("kmesos-master")
                .get()
                .getSpec()
                .getPorts()
                .get(0)
                .getPort())
        .isEqualTo(5051);

    endpoints.publish("Controller-1.Example.internal.", 5050);
    assertThat(slices())
        .singleElement()
        .satisfies(s -> assertThat(s.getAddressType()).isEqualTo("FQDN"));
    assertThat(endpoints()).containsExactly("controller-1.example.internal:5050");

    endpoints.publish("10.9.9.9", 5050);
    assertThat(endpoints()).containsExactly("10.9.9.9:5050");
  }

  @Test
  void anAddressThatCannotBeReachedIsRefusedNamingIt() {
    MasterEndpoints endpoints = new MasterEndpoints(controller, NS);

    assertThatThrownBy(() -> endpoints.publish("0.0.0.0", 5050))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("wildcard address 0.0.0.0")
        .hasMessageContaining("status.podIP");
    assertThatThrownBy(() -> endpoints.publish("::", 5050))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("wildcard");
    assertThatThrownBy(() -> endpoints.publish("not a host", 5050))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'not a host' is neither an IP address nor a DNS name");
    assertThatThrownBy(() -> endpoints.publish("10.0.0.1", 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("1 to 65535, not 0");
    assertThatThrownBy(() -> new MasterEndpoints(controller, " "))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("namespace");
  }

  /** The Service's EndpointSlices, as kube-proxy and cluster DNS select them. */
  List<EndpointSlice> slices() {
    return admin
        .discovery()
        .v1()
        .endpointSlices()
        .inNamespace(NS)
        .withLabel("kubernetes.io/service-name", "kmesos-master")
        .list()
        .getItems();
  }

  /** Every ready address:port the Service leads to. */
  List<String> endpoints() {
    return slices().stream()
        .flatMap(
            s ->
                s.getEndpoints().stream()
                    .filter(e -> Boolean.TRUE.equals(e.getConditions().getReady()))
                    .map(Endpoint::getAddresses)
                    .flatMap(List::stream)
                    .flatMap(
                        a ->
                            s.getPorts().stream()
                                .filter(p -> "grpc".equals(p.getName()))
                                .map(p -> a + ":" + p.getPort())))
        .sorted()
        .toList();
  }

  Map<String, String> versions() {
    Map<String, String> v = new TreeMap<>();
    v.put(
        "service",
        admin
            .services()
            .inNamespace(NS)
            .withName("kmesos-master")
            .get()
            .getMetadata()
            .getResourceVersion());
    slices().forEach(s -> v.put(s.getMetadata().getName(), s.getMetadata().getResourceVersion()));
    return v;
  }

  /** The fields the leader's field manager owns, as JSON. */
  static String ours(Service service) {
    return service.getMetadata().getManagedFields().stream()
        .filter(m -> MasterEndpoints.FIELD_MANAGER.equals(m.getManager()))
        .map(ManagedFieldsEntry::getFieldsV1)
        .map(Serialization::asJson)
        .findFirst()
        .orElseThrow();
  }
}
