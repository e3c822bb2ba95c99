package io.kmesos.local;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.kmesos.api.operator.v1.GetStateRequest;
import io.kmesos.api.operator.v1.OperatorGrpc;
import io.kmesos.api.scheduler.v1.ReconcileRequest;
import io.kmesos.api.scheduler.v1.SchedulerGrpc;
import io.kmesos.api.tls.CertificateDirectory;
import io.kmesos.api.tls.ClusterCertificates;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.api.tls.ServerTrust;
import io.kmesos.api.tls.TlsSettings;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.crds.KmesosCrds;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.ServiceAccountTokens;
import io.kmesos.framework.FrameworkClient;
import io.kmesos.framework.FrameworkSettings;
import io.kmesos.framework.Protos;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * What the failover benchmarks share: a real kube-apiserver with kmesos's CRDs, a CA with the
 * controller, admin and agent certificates, a framework token allowed to {@code use} its role, and
 * a probe of whether a controller's master port serves (a leader answers the Operator API; a
 * standby refuses every call UNAVAILABLE).
 */
final class FailoverRig implements AutoCloseable {
  static final String ROLE = TaskLaunchBenchmark.ROLE;

  final Path work;
  final LocalKubeApiServer server;
  final KubernetesClient admin;
  final Path kubeconfig;
  final CertificateDirectory certs;
  final MutualTls agentTls;
  final MutualTls adminTls;
  final ServerTrust trust;
  final Path frameworkToken;

  FailoverRig(Path work) throws Exception {
    this.work = work;
    Files.createDirectories(work);
    server = LocalKubeApiServer.start();
    kubeconfig = server.writeKubeConfig(work.resolve("kubeconfig"));
    admin = server.newClient();
    KmesosCrds.install(admin, Duration.ofSeconds(60));
    admin
        .namespaces()
        .resource(
            new NamespaceBuilder()
                .withNewMetadata()
                .withName(LocalCluster.NAMESPACE)
                .endMetadata()
                .build())
        .serverSideApply();
    certs = new CertificateDirectory(work.resolve("certs"));
    ClusterCertificates.ensure(
        certs,
        new ClusterCertificates.Settings(
            List.of(Identity.REPLICA, Identity.CONTROLLER, Identity.ADMIN, Identity.AGENT),
            Map.of(Identity.REPLICA, List.of("127.0.0.1", "localhost")),
            ClusterCertificates.Settings.DEFAULT_CA_VALIDITY,
            ClusterCertificates.Settings.DEFAULT_VALIDITY,
            false),
        Instant.now());
    agentTls = MutualTls.load(certs.settings(Identity.AGENT));
    adminTls = MutualTls.load(certs.settings(Identity.ADMIN));
    trust =
        ServerTrust.load(
            certs.dir(Identity.CONTROLLER).resolve("ca.crt"),
            Identity.CONTROLLER,
            TlsSettings.DEFAULT_RELOAD);
    frameworkToken =
        Files.writeString(
            work.resolve("framework.token"),
            TaskLaunchBenchmark.frameworkToken(admin, new ServiceAccountTokens(admin)));
  }

  /** A framework of {@link #ROLE} that survives its master's failover (failover timeout 1 h). */
  FrameworkClient framework(String name, List<String> masters, FailoverFramework scheduler) {
    return FrameworkClient.start(
        FrameworkSettings.of(
            masters,
            FrameworkInfo.newBuilder()
                .setName(name)
                .addRoles(ROLE)
                .setCheckpoint(true)
                .setFailoverTimeout(Protos.duration(Duration.ofHours(1)))
                .build(),
            trust.channelCredentials(),
            frameworkToken),
        scheduler);
  }

  /** An admin channel to a master port, for {@link #serves} and {@link #standsBy}. */
  AdminChannel channel(String address) {
    return new AdminChannel(
        Grpc.newChannelBuilder(address, adminTls.channelCredentials(Identity.CONTROLLER))
            // The state of a master with thousands of tasks is larger than gRPC's default 4 MiB.
            .maxInboundMessageSize(256 << 20)
            .build());
  }

  /** A channel that try-with-resources closes. */
  record AdminChannel(ManagedChannel channel) implements AutoCloseable {
    @Override
    public void close() {
      channel.shutdownNow();
    }
  }

  /**
   * Whether the master behind {@code channel} serves: the Operator API answers (a standby, or a
   * master still recovering, answers UNAVAILABLE; a port not yet open fails too).
   */
  static boolean serves(AdminChannel admin) {
    try {
      OperatorGrpc.newBlockingStub(admin.channel())
          .withDeadlineAfter(2, TimeUnit.SECONDS)
          .getState(GetStateRequest.getDefaultInstance());
      return true;
    } catch (StatusRuntimeException e) {
      return false;
    }
  }

  /**
   * Whether the master behind {@code channel} serves, cheaply for a master of any size: a Scheduler
   * call without a token gets past the standby check to authentication (UNAUTHENTICATED), where a
   * standby, or a master still recovering, answers UNAVAILABLE (and a port not yet open fails too).
   */
  static boolean passesStandby(AdminChannel admin) {
    try {
      SchedulerGrpc.newBlockingStub(admin.channel())
          .withDeadlineAfter(2, TimeUnit.SECONDS)
          .reconcile(ReconcileRequest.getDefaultInstance());
      return true;
    } catch (StatusRuntimeException e) {
      Status.Code code = e.getStatus().getCode();
      return code != Status.Code.UNAVAILABLE
          && code != Status.Code.DEADLINE_EXCEEDED
          && code != Status.Code.CANCELLED;
    }
  }

  /** Whether the controller behind {@code channel} answers as a standby (a warm one). */
  static boolean standsBy(AdminChannel admin) {
    try {
      OperatorGrpc.newBlockingStub(admin.channel())
          .withDeadlineAfter(2, TimeUnit.SECONDS)
          .getState(GetStateRequest.getDefaultInstance());
      return false;
    } catch (StatusRuntimeException e) {
      String description = e.getStatus().getDescription();
      return description != null && description.startsWith("not the leading master");
    }
  }

  /** Deletes every Agent resource (their finalizers too), for a fresh registry. */
  void deleteAgents() {
    for (HasMetadata a : admin.resources(Agent.class).list().getItems()) {
      try {
        admin
            .resource(a)
            .edit(
                x -> {
                  x.getMetadata().setFinalizers(List.of());
                  return x;
                });
      } catch (RuntimeException e) {
        // gone already
      }
      admin.resource(a).withGracePeriod(0).delete();
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  interface Check {
    boolean ok() throws Exception;
  }

  static void await(Check check, Duration timeout, String what) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!check.ok()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("waited " + timeout + " for " + what);
      }
      Thread.sleep(50);
    }
  }

  @Override
  public void close() {
    trust.close();
    agentTls.close();
    adminTls.close();
    admin.close();
    server.close();
  }
}
