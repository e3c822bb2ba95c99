package io.kmesos.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenRequest;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.crds.v1alpha1.AgentSpec;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.WithKubeApiServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kustomize base against a real kube-apiserver, the way an operator installs it: kubectl's
 * server-side dry run, then the real thing; then the agent policy, with a real service-account token
 * bound to a pod on a node (the token names the node, and an agent may only write that node's Agent).
 */
@WithKubeApiServer
class ManifestsIT {
  @TempDir Path dir;

  Proc kubectl(Path kubeconfig, String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of(LocalKubeApiServer.binaryDirectory().resolve("kubectl").toString()));
    cmd.addAll(List.of(args));
    return Proc.run(Duration.ofSeconds(120), Map.of("KUBECONFIG", kubeconfig.toString()), cmd);
  }

  @Test
  void theBaseIsAcceptedByTheApiServerAndAgentsMayOnlyWriteTheirOwnNode(LocalKubeApiServer server, KubernetesClient admin)
      throws Exception {
    Path kubeconfig = server.writeKubeConfig(dir.resolve("kubeconfig"));
    Proc dryRun = kubectl(kubeconfig, "create", "namespace", "kmesos");
    assertThat(dryRun.exitCode()).as(dryRun.stderr()).isZero();
    Proc check = kubectl(kubeconfig, "apply", "--server-side", "--dry-run=server", "-k", "manifests/base");
    assertThat(check.exitCode()).as(check.stderr()).isZero();
    assertThat(check.stdout()).contains("statefulset.apps/kmesos-replica serverside-applied (server dry run)");

    Proc apply = kubectl(kubeconfig, "apply", "--server-side", "-k", "manifests/base");
    assertThat(apply.exitCode()).as(apply.stderr()).isZero();
    assertThat(admin.apps().statefulSets().inNamespace("kmesos").withName("kmesos-replica").get().getSpec().getReplicas())
        .isEqualTo(3);
    assertThat(admin.apps().deployments().inNamespace("kmesos").withName("kmesos-controller").get().getSpec().getReplicas())
        .isEqualTo(2);
    assertThat(admin.apps().daemonSets().inNamespace("kmesos").withName("kmesos-agent").get()).isNotNull();
    assertThat(admin.policy().v1().podDisruptionBudget().inNamespace("kmesos").withName("kmesos-replica").get()
        .getSpec().getMinAvailable().getIntVal()).isEqualTo(2);
    Proc again = kubectl(kubeconfig, "apply", "--server-side", "-k", "manifests/base");
    assertThat(again.exitCode()).as(again.stderr()).isZero();
    assertThat(again.stdout()).doesNotContain("configured").contains("serverside-applied");

    // An agent pod on node-1, with a token bound to it: the token carries the node's name.
    admin.nodes().resource(new NodeBuilder().withNewMetadata().withName("node-1").endMetadata().build()).create();
    Pod pod = admin.pods().inNamespace("kmesos").resource(new PodBuilder().withNewMetadata().withName("agent-on-node-1")
        .endMetadata().withNewSpec().withServiceAccountName("kmesos-agent").withNodeName("node-1").addNewContainer()
        .withName("agent").withImage("kmesos:0.1.0").endContainer().endSpec().build()).create();
    TokenRequest token = admin.serviceAccounts().inNamespace("kmesos").withName("kmesos-agent").tokenRequest(
        new TokenRequestBuilder().withNewSpec().withAudiences(List.of()).withExpirationSeconds(3600L)
            .withNewBoundObjectRef().withApiVersion("v1").withKind("Pod").withName(pod.getMetadata().getName())
            .withUid(pod.getMetadata().getUid()).endBoundObjectRef().endSpec().build());
    Config asAgent = new ConfigBuilder(Config.fromKubeconfig(server.kubeConfigYaml())).withClientCertData(null)
        .withClientKeyData(null).withClientCertFile(null).withClientKeyFile(null)
        .withOauthToken(token.getStatus().getToken()).build();
    try (KubernetesClient agent = new KubernetesClientBuilder().withConfig(asAgent).build()) {
      Agent own = agent.resource(agentNamed("node-1")).create();
      assertThat(own.getMetadata().getName()).isEqualTo("node-1");
      assertThatThrownBy(() -> agent.resource(agentNamed("node-2")).create())
          .isInstanceOf(KubernetesClientException.class)
          .hasMessageContaining("an agent may only write the Agent named after its own node, not node-2");
      assertThatThrownBy(() -> agent.resources(io.kmesos.crds.v1alpha1.Quota.class).list())
          .as("and nothing but Agents").isInstanceOf(KubernetesClientException.class).hasMessageContaining("forbidden");
    }
    // The policy binds agents only: the admin (and the controller) may write any Agent.
    assertThat(admin.resource(agentNamed("node-2")).create().getMetadata().getName()).isEqualTo("node-2");
  }

  static Agent agentNamed(String node) {
    Agent a = new Agent();
    a.getMetadata().setName(node);
    a.setSpec(new AgentSpec());
    a.getSpec().setHostname(node + ".cluster.local");
    return a;
  }
}
