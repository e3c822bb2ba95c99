package io.kmesos.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.kmesos.api.agent.v1.Acknowledgement;
import io.kmesos.api.agent.v1.AgentMessage;
import io.kmesos.api.agent.v1.AgentSessionGrpc;
import io.kmesos.api.agent.v1.KillTask;
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.agent.v1.Registered;
import io.kmesos.api.agent.v1.RunTask;
import io.kmesos.api.agent.v1.StatusUpdate;
import io.kmesos.api.tls.CertificateDirectory;
import io.kmesos.api.tls.ClusterCertificates;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Resource;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.crds.KmesosCrds;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.crds.v1alpha1.AgentStatus;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.WithKubeApiServer;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kmesos-agent --master} as a process, against a real kube-apiserver and a scripted master
 * on 127.0.0.1 (mutual TLS): it waits for admission, registers under its Agent's UID with a bearer
 * token, runs and kills a task, delivers each update until acknowledged, and shows what it runs in
 * its Agent's status.
 */
@WithKubeApiServer
class AgentTasksIT {
  static final Duration PATIENCE = Duration.ofSeconds(120);
  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  @TempDir Path dir;

  final List<AgentMessage> received = new CopyOnWriteArrayList<>();
  final List<String> authorizations = new CopyOnWriteArrayList<>();
  volatile StreamObserver<MasterMessage> toAgent;

  synchronized void send(MasterMessage m) {
    toAgent.onNext(m);
  }

  /** The update of this task in this state, once received. */
  StatusUpdate awaitUpdate(String task, TaskState state) {
    return await()
        .atMost(PATIENCE)
        .until(
            () ->
                received.stream()
                    .filter(AgentMessage::hasStatusUpdate)
                    .map(AgentMessage::getStatusUpdate)
                    .filter(
                        u ->
                            u.getStatus().getTaskId().equals(task)
                                && u.getStatus().getState() == state)
                    .findFirst()
                    .orElse(null),
            u -> u != null);
  }

  void acknowledge(StatusUpdate u) {
    send(
        MasterMessage.newBuilder()
            .setAcknowledgement(
                Acknowledgement.newBuilder()
                    .setFrameworkId(u.getFrameworkId())
                    .setTaskId(u.getStatus().getTaskId())
                    .setUuid(u.getStatus().getUuid()))
            .build());
  }

  @Test
  void runsAndKillsATaskTheMasterSends(LocalKubeApiServer kube, KubernetesClient client)
      throws Exception {
    KmesosCrds.install(client, PATIENCE);
    CertificateDirectory certs = new CertificateDirectory(dir.resolve("certs"));
    ClusterCertificates.ensure(
        certs,
        new ClusterCertificates.Settings(
            List.of(Identity.CONTROLLER, Identity.AGENT),
            Map.of(Identity.CONTROLLER, List.of("127.0.0.1")),
            Duration.ofDays(20),
            Duration.ofDays(10),
            false),
        Instant.now());
    ServerInterceptor headers =
        new ServerInterceptor() {
          @Override
          public <Q, A> ServerCall.Listener<Q> interceptCall(
              ServerCall<Q, A> call, Metadata h, ServerCallHandler<Q, A> next) {
            authorizations.add(h.get(AUTHORIZATION));
            return next.startCall(call, h);
          }
        };
    try (MutualTls masterTls = MutualTls.load(certs.settings(Identity.CONTROLLER))) {
      Server master =
          NettyServerBuilder.forAddress(
                  new InetSocketAddress("127.0.0.1", 0), masterTls.serverCredentials())
              .addService(
                  ServerInterceptors.intercept(
                      new AgentSessionGrpc.AgentSessionImplBase() {
                        @Override
                        public StreamObserver<AgentMessage> connect(
                            StreamObserver<MasterMessage> out) {
                          toAgent = out;
                          return new StreamObserver<>() {
                            @Override
                            public void onNext(AgentMessage m) {
                              received.add(m);
                              if (m.hasRegister()) {
                                send(
                                    MasterMessage.newBuilder()
                                        .setRegistered(
                                            Registered.newBuilder()
                                                .setAgentId(m.getRegister().getAgentId()))
                                        .build());
                              }
                            }

                            @Override
                            public void onError(Throwable t) {}

                            @Override
                            public void onCompleted() {}
                          };
                        }
                      },
                      headers,
                      MutualTls.identityCheck(Set.of(Identity.AGENT))))
              .build()
              .start();
      Path token = Files.writeString(dir.resolve("token"), "agent-token\n");
      Path kubeconfig = kube.writeKubeConfig(dir.resolve("kubeconfig"));
      Path work = dir.resolve("work");
      Process agent =
          new ProcessBuilder(
                  List.of(
                      Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                      "-Xmx256m",
                      "-cp",
                      System.getProperty("java.class.path"),
                      "io.kmesos.agent.AgentMain",
                      "--node-name",
                      "node-t",
                      "--work-dir",
                      work.toString(),
                      "--kubeconfig",
                      kubeconfig.toString(),
                      "--metrics-port",
                      "0",
                      "--master",
                      "127.0.0.1:" + master.getPort(),
                      "--tls-dir",
                      certs.dir(Identity.AGENT).toString(),
                      "--token-file",
                      token.toString(),
                      "--status-interval",
                      "1s",
                      "--kill-grace-period",
                      "1s"))
              .redirectErrorStream(true)
              .redirectOutput(dir.resolve("agent.log").toFile())
              .start();
      try {
        Agent registered =
            await()
                .atMost(PATIENCE)
                .until(
                    () -> client.resources(Agent.class).withName("node-t").get(), a -> a != null);
        Thread.sleep(1000); // nothing to wait for: no session before admission
        assertThat(received).as("no session before admission").isEmpty();

        // What the controller writes once it admitted the agent into the registry (on the latest
        // version: the agent reports its own status fields meanwhile).
        await()
            .atMost(PATIENCE)
            .ignoreExceptions()
            .until(
                () -> {
                  Agent latest = client.resources(Agent.class).withName("node-t").get();
                  AgentStatus status =
                      latest.getStatus() == null ? new AgentStatus() : latest.getStatus();
                  status.setState("Admitted");
                  status.setAgentId(latest.getMetadata().getUid());
                  latest.setStatus(status);
                  client.resource(latest).updateStatus();
                  return true;
                });

        AgentMessage first =
            await()
                .atMost(PATIENCE)
                .until(() -> received.isEmpty() ? null : received.get(0), m -> m != null);
        assertThat(first.getRegister().getAgentId()).isEqualTo(registered.getMetadata().getUid());
        assertThat(first.getRegister().getHostname()).isEqualTo("node-t");
        assertThat(authorizations).first().isEqualTo("Bearer agent-token");
        double cpus =
            first.getRegister().getResourcesList().stream()
                .filter(r -> r.getName().equals("cpus"))
                .findFirst()
                .orElseThrow()
                .getScalar();

        FrameworkInfo fw =
            FrameworkInfo.newBuilder()
                .setId("fw-t")
                .addCapabilities(FrameworkInfo.Capability.PARTITION_AWARE)
                .build();
        send(
            MasterMessage.newBuilder()
                .setRunTask(
                    RunTask.newBuilder()
                        .setFramework(fw)
                        .setTask(
                            TaskInfo.newBuilder()
                                .setTaskId("sleeper")
                                .setAgentId(registered.getMetadata().getUid())
                                .addResources(Resource.newBuilder().setName("cpus").setScalar(1))
                                .setCommand(
                                    CommandInfo.newBuilder()
                                        .setValue("trap '' TERM; sleep 1000.5151 & wait"))))
                .build());
        // The agent starts the command itself: the first update is TASK_RUNNING (no STARTING).
        StatusUpdate running = awaitUpdate("sleeper", TaskState.TASK_RUNNING);
        assertThat(running.getStatus().getUuid().size()).isEqualTo(16);
        assertThat(running.getStatus().getAgentId()).isEqualTo(registered.getMetadata().getUid());
        acknowledge(running);

        await()
            .atMost(PATIENCE)
            .untilAsserted(
                () -> {
                  AgentStatus s =
                      client.resources(Agent.class).withName("node-t").get().getStatus();
                  assertThat(s.getTasksRunning()).isEqualTo(1);
                  assertThat(s.getResourcesUsed()).containsEntry("cpus", 1.0);
                  assertThat(s.getResourcesFree()).containsEntry("cpus", cpus - 1);
                  assertThat(s.getState()).isEqualTo("Admitted");
                });
        assertThat(
                Files.readString(
                    work.resolve("sandboxes/fw-t/sleeper")
                        .resolve(
                            Files.list(work.resolve("sandboxes/fw-t/sleeper"))
                                .findFirst()
                                .orElseThrow()
                                .getFileName())
                        .resolve("stderr")))
            .isEmpty();

        send(
            MasterMessage.newBuilder()
                .setKillTask(KillTask.newBuilder().setFrameworkId("fw-t").setTaskId("sleeper"))
                .build());
        StatusUpdate killed = awaitUpdate("sleeper", TaskState.TASK_KILLED);
        acknowledge(killed);
        await()
            .atMost(PATIENCE)
            .untilAsserted(
                () -> {
                  AgentStatus s =
                      client.resources(Agent.class).withName("node-t").get().getStatus();
                  assertThat(s.getTasksRunning()).isZero();
                  assertThat(s.getResourcesUsed()).containsEntry("cpus", 0.0);
                });
        assertThat(
                ProcessHandle.allProcesses()
                    .filter(p -> p.info().commandLine().orElse("").contains("1000.5151")))
            .isEmpty();
      } finally {
        agent.destroy();
        agent.waitFor(30, TimeUnit.SECONDS);
        master.shutdownNow();
      }
    }
  }
}
