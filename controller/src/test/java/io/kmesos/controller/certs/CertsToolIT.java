package io.kmesos.controller.certs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.CronJob;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.kmesos.api.tls.CertificateAuthority;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.api.tls.Pem;
import io.kmesos.api.tls.TlsSettings;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.WithKubeApiServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kmesos-certs} as a process, as the install Job runs it: against a real kube-apiserver, as
 * the kmesos-certs service account with exactly the manifests' RBAC, with the manifests' arguments.
 */
@WithKubeApiServer
class CertsToolIT {
  static final String NS = "kmesos";
  static KubernetesClient admin;
  static Path kubeconfig;
  static List<String> jobArgs;

  @TempDir Path dir;

  record Result(int exit, String out, String err) {}

  @BeforeAll
  static void cluster(LocalKubeApiServer server, KubernetesClient k8s, @TempDir Path tmp)
      throws Exception {
    admin = k8s;
    admin
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
        .serverSideApply();
    try (var in = Files.newInputStream(Path.of("../manifests/base/certs.yaml"))) {
      for (HasMetadata o : admin.load(in).items()) {
        if (o instanceof Job job) {
          jobArgs = job.getSpec().getTemplate().getSpec().getContainers().get(0).getArgs();
        } else if (!(o instanceof CronJob)) {
          admin.resource(o).inNamespace(NS).serverSideApply();
        }
      }
    }
    var token =
        admin
            .serviceAccounts()
            .inNamespace(NS)
            .withName("kmesos-certs")
            .tokenRequest(
                new TokenRequestBuilder()
                    .withNewSpec()
                    .withAudiences(List.of())
                    .withExpirationSeconds(3600L)
                    .endSpec()
                    .build());
    kubeconfig =
        server.writeTokenKubeConfig(
            tmp.resolve("certs-kubeconfig"), "kmesos-certs", token.getStatus().getToken());
  }

  Result run(List<String> args) throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                CertsTool.class.getName()));
    cmd.addAll(args);
    Path out = Files.createTempFile(dir, "out", ".txt");
    Path err = Files.createTempFile(dir, "err", ".txt");
    Process p =
        new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    if (!p.waitFor(180, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("kmesos-certs " + args + " did not finish within 180 s");
    }
    return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
  }

  /**
   * The install Job's command ("kmesos-certs kubernetes ..."), as its service account, plus {@code
   * more}.
   */
  Result job(String... more) throws Exception {
    List<String> args = new ArrayList<>(jobArgs.subList(1, jobArgs.size()));
    args.addAll(List.of("--kubeconfig", kubeconfig.toString(), "--namespace", NS));
    args.addAll(List.of(more));
    return run(args);
  }

  static String data(Secret s, String key) {
    return new String(Base64.getDecoder().decode(s.getData().get(key)), StandardCharsets.UTF_8);
  }

  Secret secret(String name) {
    return admin.secrets().inNamespace(NS).withName(name).get();
  }

  @Test
  void theInstallJobMakesTheSecretsAndARerunKeepsThemAndTheCa() throws Exception {
    Result first = job();
    assertThat(first.exit()).as(first.err()).isZero();
    assertThat(first.out())
        .startsWith("created CA in Secret kmesos/kmesos-ca (valid until ")
        .contains(
            "issued replica certificate in Secret kmesos/kmesos-replica-tls (none yet; valid until ")
        .contains(
            "issued controller certificate in Secret kmesos/kmesos-controller-tls (none yet; ")
        .contains("issued admin certificate in Secret kmesos/kmesos-admin-tls (none yet; ")
        .contains("issued agent certificate in Secret kmesos/kmesos-agent-tls (none yet; ");
    assertThat(first.err()).isEmpty();

    Secret ca = secret("kmesos-ca");
    CertificateAuthority authority =
        CertificateAuthority.load(data(ca, "tls.crt"), data(ca, "tls.key"));
    for (Identity component :
        List.of(Identity.REPLICA, Identity.CONTROLLER, Identity.ADMIN, Identity.AGENT)) {
      Secret s = secret("kmesos-" + component.component() + "-tls");
      assertThat(s.getType()).isEqualTo("kubernetes.io/tls");
      assertThat(s.getData()).containsOnlyKeys("ca.crt", "tls.crt", "tls.key");
      X509Certificate cert = Pem.certificates(data(s, "tls.crt")).get(0);
      assertThat(authority.signed(cert)).isTrue();
      assertThat(Identity.of(cert)).containsExactly(component);
      assertThat(data(s, "ca.crt")).isEqualTo(data(ca, "tls.crt"));
      // What a pod gets when the Secret is mounted: a --tls-dir that loads.
      Path mounted = Files.createDirectories(dir.resolve(component.component()));
      for (String key : List.of("ca.crt", "tls.crt", "tls.key")) {
        Files.writeString(mounted.resolve(key), data(s, key));
      }
      try (MutualTls loaded = MutualTls.load(TlsSettings.fromDirectory(mounted))) {
        assertThat(loaded.settings().certFile()).exists();
      }
    }
    X509Certificate replica =
        Pem.certificates(data(secret("kmesos-replica-tls"), "tls.crt")).get(0);
    assertThat(replica.getSubjectAlternativeNames())
        .extracting(n -> (Object) n.get(1))
        .contains("spiffe://kmesos/replica", "*.kmesos-replica", "*.kmesos-replica.kmesos.svc");

    String caVersion = ca.getMetadata().getResourceVersion();
    String replicaVersion = secret("kmesos-replica-tls").getMetadata().getResourceVersion();
    Result again = job();
    assertThat(again.exit()).as(again.err()).isZero();
    assertThat(again.out())
        .startsWith("kept CA in Secret kmesos/kmesos-ca")
        .contains(
            "kept replica certificate in Secret " + "kmesos/kmesos-replica-tls (valid until ");
    assertThat(secret("kmesos-ca").getMetadata().getResourceVersion()).isEqualTo(caVersion);
    assertThat(secret("kmesos-replica-tls").getMetadata().getResourceVersion())
        .isEqualTo(replicaVersion);

    Result renew = job("--renew");
    assertThat(renew.exit()).as(renew.err()).isZero();
    assertThat(renew.out())
        .startsWith("kept CA")
        .contains(
            "issued replica certificate in Secret kmesos/kmesos-replica-tls "
                + "(renewal asked for; valid until ");
    assertThat(data(secret("kmesos-ca"), "tls.crt")).isEqualTo(data(ca, "tls.crt"));
    X509Certificate renewed =
        Pem.certificates(data(secret("kmesos-replica-tls"), "tls.crt")).get(0);
    assertThat(renewed.getSerialNumber()).isNotEqualTo(replica.getSerialNumber());
    assertThat(authority.signed(renewed)).isTrue();

    // Least privilege: the job's account reads no other Secret.
    admin
        .secrets()
        .inNamespace(NS)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("someone-elses")
                .endMetadata()
                .addToStringData("password", "x")
                .build())
        .serverSideApply();
    try (KubernetesClient job =
        new KubernetesClientBuilder()
            .withConfig(Config.fromKubeconfig(Files.readString(kubeconfig)))
            .build()) {
      assertThatThrownBy(() -> job.secrets().inNamespace(NS).withName("someone-elses").get())
          .isInstanceOfSatisfying(
              KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(403));
      assertThatThrownBy(() -> job.secrets().inNamespace(NS).list())
          .isInstanceOfSatisfying(
              KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(403));
    }
  }

  @Test
  void filesAreKeptAsWellAndLoadAsATlsDir() throws Exception {
    Result first =
        run(
            List.of(
                "files",
                "--dir",
                dir.resolve("tls").toString(),
                "--component",
                "replica,admin",
                "--host",
                "replica=127.0.0.1",
                "--validity",
                "48h"));
    assertThat(first.exit()).as(first.err()).isZero();
    assertThat(first.out().lines().toList())
        .hasSize(3)
        .first()
        .asString()
        .startsWith("created CA in " + dir.resolve("tls/ca"));
    try (MutualTls replica =
        MutualTls.load(TlsSettings.fromDirectory(dir.resolve("tls/replica")))) {
      X509Certificate cert =
          Pem.certificates(Files.readString(replica.settings().certFile())).get(0);
      assertThat(Identity.of(cert)).containsExactly(Identity.REPLICA);
      assertThat(cert.getNotAfter().getTime() - cert.getNotBefore().getTime())
          .isEqualTo((48 * 60 + 1) * 60_000L);
    }
    assertThat(Files.getPosixFilePermissions(dir.resolve("tls/admin/tls.key")))
        .containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
    Result again =
        run(
            List.of(
                "files",
                "--dir",
                dir.resolve("tls").toString(),
                "--component",
                "replica,admin",
                "--host",
                "replica=127.0.0.1",
                "--validity",
                "48h"));
    assertThat(again.out())
        .doesNotContain("issued")
        .contains("kept replica certificate", "kept admin certificate");
    // A host added later: only that certificate is issued again.
    Result moreHosts =
        run(
            List.of(
                "files",
                "--dir",
                dir.resolve("tls").toString(),
                "--component",
                "replica,admin",
                "--host",
                "replica=127.0.0.1",
                "--host",
                "replica=localhost",
                "--validity",
                "48h"));
    assertThat(moreHosts.out())
        .contains(
            "issued replica certificate in " + dir.resolve("tls/replica") + " (its hosts changed; ")
        .contains("kept admin certificate");
  }

  @Test
  void badInputIsOneLine() throws Exception {
    Result component =
        run(List.of("files", "--dir", dir.toString(), "--component", "replica,nobody"));
    assertThat(component.exit()).isEqualTo(2);
    assertThat(component.err())
        .isEqualTo(
            "kmesos-certs files: 'nobody' is not a kmesos component; use one of replica, "
                + "controller, admin, agent, framework (see kmesos-certs files --help)\n");
    Result host = run(List.of("files", "--dir", dir.toString(), "--host", "127.0.0.1"));
    assertThat(host.exit()).isEqualTo(2);
    assertThat(host.err())
        .isEqualTo(
            "kmesos-certs files: --host 127.0.0.1 is not COMPONENT=HOST (e.g. "
                + "replica=kmesos-replica-0.kmesos-replica) (see kmesos-certs files --help)\n");
    Result validity = run(List.of("files", "--dir", dir.toString(), "--validity", "30d"));
    assertThat(validity.exit()).isEqualTo(2);
    assertThat(validity.err())
        .isEqualTo(
            "kmesos-certs files: Invalid value for option '--validity': '30d' is not a number "
                + "of hours like 720h (see kmesos-certs files --help)\n");
    Result shortCa =
        run(
            List.of(
                "files", "--dir", dir.toString(), "--validity", "720h", "--ca-validity", "24h"));
    assertThat(shortCa.exit()).isEqualTo(2);
    assertThat(shortCa.err())
        .isEqualTo(
            "kmesos-certs files: the CA (24h) must outlive the certificates it issues (720h) "
                + "(see kmesos-certs files --help)\n");
    assertThat(dir.resolve("ca")).doesNotExist();
  }
}
