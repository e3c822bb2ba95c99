package io.kmesos.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.authentication.TokenRequest;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.crds.v1alpha1.AgentSpec;
import io.kmesos.crds.v1alpha1.Quota;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.WithKubeApiServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kustomize base against a real kube-apiserver, the way an operator installs it: kubectl's
 * server-side dry run, then the real thing; then the agent policy, with a real service-account
 * token bound to a pod on a node (the token names the node, and an agent may only write that node's
 * Agent).
 */
@WithKubeApiServer
class ManifestsIT {
  @TempDir Path dir;

  Proc kubectl(Path kubeconfig, String... args) throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of(LocalKubeApiServer.binaryDirectory().resolve("kubectl").toString()));
    cmd.addAll(List.of(args));
    return Proc.run(Duration.ofSeconds(120), Map.of("KUBECONFIG", kubeconfig.toString()), cmd);
  }

  @Test
  void theBaseIsAcceptedByTheApiServerAndAgentsMayOnlyWriteTheirOwnNode(
      LocalKubeApiServer server, KubernetesClient admin) throws Exception {
    Path kubeconfig = server.writeKubeConfig(dir.resolve("kubeconfig"));
    // The namespace must exist for a dry run of the objects in it (another test may have made it).
    Proc namespace =
        kubectl(kubeconfig, "apply", "--server-side", "-f", "manifests/base/namespace.yaml");
    assertThat(namespace.exitCode()).as(namespace.stderr()).isZero();
    Proc check =
        kubectl(kubeconfig, "apply", "--server-side", "--dry-run=server", "-k", "manifests/base");
    assertThat(check.exitCode()).as(check.stderr()).isZero();
    assertThat(check.stdout())
        .contains("statefulset.apps/kmesos-replica serverside-applied (server dry run)");

    Proc apply = kubectl(kubeconfig, "apply", "--server-side", "-k", "manifests/base");
    assertThat(apply.exitCode()).as(apply.stderr()).isZero();
    assertThat(
            admin
                .apps()
                .statefulSets()
                .inNamespace("kmesos")
                .withName("kmesos-replica")
                .get()
                .getSpec()
                .getReplicas())
        .isEqualTo(3);
    assertThat(
            admin
                .apps()
                .deployments()
                .inNamespace("kmesos")
                .withName("kmesos-controller")
                .get()
                .getSpec()
                .getReplicas())
        .isEqualTo(2);
    assertThat(admin.apps().daemonSets().inNamespace("kmesos").withName("kmesos-agent").get())
        .isNotNull();
    assertThat(
            admin
                .policy()
                .v1()
                .podDisruptionBudget()
                .inNamespace("kmesos")
                .withName("kmesos-replica")
                .get()
                .getSpec()
                .getMinAvailable()
                .getIntVal())
        .isEqualTo(2);
    var replicaPod =
        admin
            .apps()
            .statefulSets()
            .inNamespace("kmesos")
            .withName("kmesos-replica")
            .get()
            .getSpec()
            .getTemplate()
            .getSpec();
    var replica = replicaPod.getContainers().get(0);
    // Service link variables (KMESOS_..._SERVICE_HOST, ..._PORT) would be read as options.
    assertThat(
            List.of(
                replicaPod.getEnableServiceLinks(),
                admin
                    .apps()
                    .deployments()
                    .inNamespace("kmesos")
                    .withName("kmesos-controller")
                    .get()
                    .getSpec()
                    .getTemplate()
                    .getSpec()
                    .getEnableServiceLinks(),
                admin
                    .apps()
                    .daemonSets()
                    .inNamespace("kmesos")
                    .withName("kmesos-agent")
                    .get()
                    .getSpec()
                    .getTemplate()
                    .getSpec()
                    .getEnableServiceLinks()))
        .containsOnly(false);
    assertThat(replica.getReadinessProbe().getGrpc().getPort())
        .as("readiness: the gRPC health service")
        .isEqualTo(7002);
    assertThat(replica.getLivenessProbe().getGrpc().getPort())
        .as("liveness: the gRPC health service")
        .isEqualTo(7002);
    // Java unpacks native libraries (RocksDB's) into /tmp: a read-only root needs a writable /tmp.
    List<PodSpec> specs = new ArrayList<>();
    admin
        .apps()
        .statefulSets()
        .inNamespace("kmesos")
        .list()
        .getItems()
        .forEach(o -> specs.add(o.getSpec().getTemplate().getSpec()));
    admin
        .apps()
        .deployments()
        .inNamespace("kmesos")
        .list()
        .getItems()
        .forEach(o -> specs.add(o.getSpec().getTemplate().getSpec()));
    admin
        .apps()
        .daemonSets()
        .inNamespace("kmesos")
        .list()
        .getItems()
        .forEach(o -> specs.add(o.getSpec().getTemplate().getSpec()));
    admin
        .batch()
        .v1()
        .jobs()
        .inNamespace("kmesos")
        .list()
        .getItems()
        .forEach(o -> specs.add(o.getSpec().getTemplate().getSpec()));
    assertThat(specs)
        .as("the replicas, controllers, agents, the log's initialize Job and the certificates Job")
        .hasSize(5);
    for (var spec : specs) {
      for (var c : spec.getContainers()) {
        if (c.getSecurityContext() != null
            && Boolean.TRUE.equals(c.getSecurityContext().getReadOnlyRootFilesystem())) {
          assertThat(c.getVolumeMounts())
              .as(c.getName() + " mounts a writable /tmp")
              .anyMatch(m -> m.getMountPath().equals("/tmp"));
        }
      }
    }

    // Every Secret a pod mounts is one kmesos-certs keeps (the Role names exactly those it may
    // write).
    List<String> certsWrites =
        admin
            .rbac()
            .roles()
            .inNamespace("kmesos")
            .withName("kmesos-certs")
            .get()
            .getRules()
            .stream()
            .filter(r -> r.getResourceNames() != null && !r.getResourceNames().isEmpty())
            .flatMap(r -> r.getResourceNames().stream())
            .toList();
    List<String> mounted =
        specs.stream()
            .flatMap(spec -> spec.getVolumes().stream())
            .filter(v -> v.getSecret() != null)
            .map(v -> v.getSecret().getSecretName())
            .distinct()
            .toList();
    assertThat(mounted).contains("kmesos-agent-tls", "kmesos-controller-tls");
    assertThat(certsWrites).containsAll(mounted);
    // The master's port: served by the controllers, advertised as the pod's IP, reached by agents
    // through Service kmesos-master (which the leader creates), admitted by the NetworkPolicy.
    var controller =
        admin
            .apps()
            .deployments()
            .inNamespace("kmesos")
            .withName("kmesos-controller")
            .get()
            .getSpec()
            .getTemplate()
            .getSpec()
            .getContainers()
            .get(0);
    assertThat(controller.getPorts())
        .anyMatch(p -> "grpc".equals(p.getName()) && p.getContainerPort() == 5050);
    assertThat(controller.getEnv())
        .anyMatch(
            e ->
                e.getName().equals("KMESOS_ADVERTISE_ADDRESS")
                    && e.getValue().equals("$(POD_IP):5050"));
    var agentContainer =
        admin
            .apps()
            .daemonSets()
            .inNamespace("kmesos")
            .withName("kmesos-agent")
            .get()
            .getSpec()
            .getTemplate()
            .getSpec()
            .getContainers()
            .get(0);
    assertThat(agentContainer.getEnv())
        .anyMatch(
            e ->
                e.getName().equals("KMESOS_MASTER")
                    && e.getValue().equals("kmesos-master.$(POD_NAMESPACE).svc:5050"));
    assertThat(
            admin
                .network()
                .networkPolicies()
                .inNamespace("kmesos")
                .withName("kmesos-controller")
                .get()
                .getSpec()
                .getIngress())
        .anyMatch(
            rule ->
                rule.getPorts().stream().anyMatch(p -> p.getPort().getIntVal() == 5050)
                    && rule.getFrom().stream()
                        .anyMatch(
                            peer ->
                                peer.getNamespaceSelector() != null
                                    && peer.getPodSelector() == null));

    // Applying the same base again changes nothing: every object keeps its resourceVersion.
    Map<String, String> before = resourceVersions(admin);
    Proc again = kubectl(kubeconfig, "apply", "--server-side", "-k", "manifests/base");
    assertThat(again.exitCode()).as(again.stderr()).isZero();
    assertThat(resourceVersions(admin)).isEqualTo(before);

    // An agent pod on node-1, with a token bound to it: the token carries the node's name.
    admin
        .nodes()
        .resource(new NodeBuilder().withNewMetadata().withName("node-1").endMetadata().build())
        .create();
    Pod pod =
        admin
            .pods()
            .inNamespace("kmesos")
            .resource(
                new PodBuilder()
                    .withNewMetadata()
                    .withName("agent-on-node-1")
                    .endMetadata()
                    .withNewSpec()
                    .withServiceAccountName("kmesos-agent")
                    .withNodeName("node-1")
                    .addNewContainer()
                    .withName("agent")
                    .withImage("kmesos:0.1.0")
                    .endContainer()
                    .endSpec()
                    .build())
            .create();
    TokenRequest token =
        admin
            .serviceAccounts()
            .inNamespace("kmesos")
            .withName("kmesos-agent")
            .tokenRequest(
                new TokenRequestBuilder()
                    .withNewSpec()
                    .withAudiences(List.of())
                    .withExpirationSeconds(3600L)
                    .withNewBoundObjectRef()
                    .withApiVersion("v1")
                    .withKind("Pod")
                    .withName(pod.getMetadata().getName())
                    .withUid(pod.getMetadata().getUid())
                    .endBoundObjectRef()
                    .endSpec()
                    .build());
    Config admin0 = Config.fromKubeconfig(server.kubeConfigYaml());
    Path agentConfig =
        server.writeTokenKubeConfig(
            dir.resolve("agent-kubeconfig"), "agent", token.getStatus().getToken());

    // The real agent, with that token: it registers its own node, and is refused any other.
    Proc own = agent(agentConfig, "node-1");
    assertThat(own.exitCode()).as(own.stderr()).isZero();
    assertThat(own.stdout()).contains("kmesos-agent: registered Agent/node-1");
    assertThat(admin.resources(Agent.class).withName("node-1").get().getSpec().getResources())
        .containsKeys("cpus", "mem", "disk");
    Proc other = agent(agentConfig, "node-2");
    assertThat(other.exitCode()).isEqualTo(1);
    assertThat(other.stderr())
        .contains("an agent may only write the Agent named after its own node, not node-2")
        .doesNotContain("Exception");
    Config asAgent =
        new ConfigBuilder(admin0)
            .withClientCertData(null)
            .withClientKeyData(null)
            .withClientCertFile(null)
            .withClientKeyFile(null)
            .withOauthToken(token.getStatus().getToken())
            .build();
    try (KubernetesClient agent = new KubernetesClientBuilder().withConfig(asAgent).build()) {
      assertThatThrownBy(() -> agent.resources(Quota.class).list())
          .as("and nothing but Agents")
          .isInstanceOf(KubernetesClientException.class)
          .hasMessageContaining("forbidden");
    }
    // The policy binds agents only: the admin (and the controller) may write any Agent.
    assertThat(admin.resource(agentNamed("node-2")).create().getMetadata().getName())
        .isEqualTo("node-2");
  }

  Proc agent(Path kubeconfig, String node) throws Exception {
    // The agent's own runnable jar, as its image runs it (this module's test classpath would hold
    // every component and a logback.xml from each).
    return Proc.run(
        Duration.ofSeconds(120),
        Map.of(),
        List.of(
            Proc.java(),
            "-jar",
            "agent/target/kmesos-agent.jar",
            "--node-name",
            node,
            "--work-dir",
            dir.resolve("agent-work").toString(),
            "--kubeconfig",
            kubeconfig.toString(),
            "--register-only"));
  }

  static Map<String, String> resourceVersions(KubernetesClient admin) {
    Map<String, String> versions = new TreeMap<>();
    var ns = "kmesos";
    admin
        .apps()
        .statefulSets()
        .inNamespace(ns)
        .list()
        .getItems()
        .forEach(
            o ->
                versions.put(
                    "sts/" + o.getMetadata().getName(), o.getMetadata().getResourceVersion()));
    admin
        .apps()
        .deployments()
        .inNamespace(ns)
        .list()
        .getItems()
        .forEach(
            o ->
                versions.put(
                    "deploy/" + o.getMetadata().getName(), o.getMetadata().getResourceVersion()));
    admin
        .apps()
        .daemonSets()
        .inNamespace(ns)
        .list()
        .getItems()
        .forEach(
            o ->
                versions.put(
                    "ds/" + o.getMetadata().getName(), o.getMetadata().getResourceVersion()));
    admin
        .services()
        .inNamespace(ns)
        .list()
        .getItems()
        .forEach(
            o ->
                versions.put(
                    "svc/" + o.getMetadata().getName(), o.getMetadata().getResourceVersion()));
    admin.configMaps().inNamespace(ns).list().getItems().stream()
        .filter(o -> o.getMetadata().getName().equals("kmesos"))
        .forEach(
            o ->
                versions.put(
                    "cm/" + o.getMetadata().getName(), o.getMetadata().getResourceVersion()));
    admin
        .serviceAccounts()
        .inNamespace(ns)
        .list()
        .getItems()
        .forEach(
            o ->
                versions.put(
                    "sa/" + o.getMetadata().getName(), o.getMetadata().getResourceVersion()));
    admin.rbac().clusterRoles().list().getItems().stream()
        .filter(o -> o.getMetadata().getName().startsWith("kmesos"))
        .forEach(
            o ->
                versions.put(
                    "clusterrole/" + o.getMetadata().getName(),
                    o.getMetadata().getResourceVersion()));
    admin
        .apiextensions()
        .v1()
        .customResourceDefinitions()
        .list()
        .getItems()
        .forEach(
            o ->
                versions.put(
                    "crd/" + o.getMetadata().getName(), o.getMetadata().getResourceVersion()));
    assertThat(versions).as("objects the base creates").hasSizeGreaterThan(8);
    return versions;
  }

  static Agent agentNamed(String node) {
    Agent a = new Agent();
    a.getMetadata().setName(node);
    a.setSpec(new AgentSpec());
    a.getSpec().setHostname(node + ".cluster.local");
    return a;
  }

  /**
   * The overlay for the test node of scripts/kube-node.sh (docs/real-node.md): the server takes its
   * patched workloads and its static volumes, which are bound ahead to the replicas' claims.
   */
  @Test
  void theRealNodeOverlayIsAcceptedByTheApiServer(LocalKubeApiServer server) throws Exception {
    Path kubeconfig = server.writeKubeConfig(dir.resolve("kubeconfig"));
    // The namespace must exist for a dry run of the objects in it (the other test may have made
    // it).
    Proc namespace =
        kubectl(kubeconfig, "apply", "--server-side", "-f", "manifests/base/namespace.yaml");
    assertThat(namespace.exitCode()).as(namespace.stderr()).isZero();
    Proc check =
        kubectl(
            kubeconfig,
            "apply",
            "--server-side",
            "--dry-run=server",
            "-k",
            "manifests/overlays/real-node");
    assertThat(check.exitCode()).as(check.stderr()).isZero();
    assertThat(check.stdout())
        .contains(
            "persistentvolume/kmesos-replica-0 serverside-applied (server dry run)",
            "statefulset.apps/kmesos-replica serverside-applied (server dry run)",
            "daemonset.apps/kmesos-agent serverside-applied (server dry run)");
  }

  @Test
  @SuppressWarnings("unchecked")
  void theCertManagerOverlayFillsTheSameSecretsInsteadOfKmesosCerts() throws Exception {
    Proc build =
        kubectl(dir.resolve("no-kubeconfig"), "kustomize", "manifests/overlays/cert-manager");
    assertThat(build.exitCode()).as(build.stderr()).isZero();
    List<Map<String, Object>> objects = new ArrayList<>();
    try (var docs = new YAMLMapper().readerFor(Map.class).readValues(build.stdout())) {
      while (docs.hasNext()) {
        objects.add((Map<String, Object>) docs.next());
      }
    }
    Function<Map<String, Object>, String> name =
        o -> o.get("kind") + "/" + ((Map<?, ?>) o.get("metadata")).get("name");
    assertThat(objects)
        .extracting(name)
        .doesNotContain(
            "Job/kmesos-certs",
            "CronJob/kmesos-certs-renew",
            "Role/kmesos-certs",
            "RoleBinding/kmesos-certs",
            "ServiceAccount/kmesos-certs")
        .contains(
            "StatefulSet/kmesos-replica",
            "Deployment/kmesos-controller",
            "Job/kmesos-log-initialize",
            "Issuer/kmesos-ca",
            "Certificate/kmesos-ca");
    for (String component : List.of("replica", "controller", "admin", "agent")) {
      Map<?, ?> spec =
          (Map<?, ?>)
              objects.stream()
                  .filter(o -> name.apply(o).equals("Certificate/kmesos-" + component))
                  .findFirst()
                  .orElseThrow()
                  .get("spec");
      // What the pods mount, with the identity they check, in the key format they read.
      assertThat(spec.get("secretName")).isEqualTo("kmesos-" + component + "-tls");
      assertThat(spec.get("uris")).isEqualTo(List.of("spiffe://kmesos/" + component));
      assertThat(((Map<?, ?>) spec.get("privateKey")).get("encoding")).isEqualTo("PKCS8");
      assertThat((List<String>) spec.get("usages")).contains("server auth", "client auth");
      assertThat(((Map<?, ?>) spec.get("issuerRef")).get("name")).isEqualTo("kmesos-ca");
    }
  }
}
