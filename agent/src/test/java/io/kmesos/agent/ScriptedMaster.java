package io.kmesos.agent;

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
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.agent.v1.Registered;
import io.kmesos.api.agent.v1.Reregistered;
import io.kmesos.api.agent.v1.StatusUpdate;
import io.kmesos.api.tls.CertificateDirectory;
import io.kmesos.api.tls.ClusterCertificates;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.MutualTls;
import io.kmesos.api.v1.TaskState;
import io.kmesos.crds.KmesosCrds;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.crds.v1alpha1.AgentStatus;
import io.kmesos.devcluster.LocalKubeApiServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The agent's ITs' set-up: a scripted master on 127.0.0.1 (mutual TLS, the controller's
 * certificate; it answers Register with Registered and Reregister with Reregistered, records every
 * message and the authorization header of every call) and {@code kmesos-agent --master} as a
 * process against it and a real kube-apiserver, its output in {@code <dir>/agent.log}. The test
 * plays the controller's part: {@link #admit} writes what the controller writes on admission.
 */
final class ScriptedMaster implements AutoCloseable {
  static final Duration PATIENCE = Duration.ofSeconds(120);
  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  /** Every message the agent sent, in order. */
  final List<AgentMessage> received = new CopyOnWriteArrayList<>();

  /** The authorization header of every call the agent made. */
  final List<String> authorizations = new CopyOnWriteArrayList<>();

  private final Path dir;
  private final String nodeName;
  private final Path work;
  private final CertificateDirectory certs;
  private final MutualTls tls;
  private final Server server;
  private volatile StreamObserver<MasterMessage> toAgent;
  private List<String> agentArgv;
  private Process agent;
  private int metricsPort;
  private HttpClient http;
  private volatile String agentId;

  /**
   * Installs the CRDs, makes the cluster's certificates under {@code dir} and starts the master;
   * the agent's work directory is {@code <dir>/work}.
   *
   * @param nodeName the agent's node (and Agent resource) name
   */
  ScriptedMaster(KubernetesClient client, Path dir, String nodeName) throws Exception {
    this(client, dir, nodeName, dir.resolve("work"));
  }

  /**
   * Likewise, with the agent's work directory at {@code work} (on a file system of the test's own,
   * or one a previous agent of this node left).
   */
  ScriptedMaster(KubernetesClient client, Path dir, String nodeName, Path work) throws Exception {
    this.dir = dir;
    this.nodeName = nodeName;
    this.work = work;
    KmesosCrds.install(client, PATIENCE);
    certs = new CertificateDirectory(dir.resolve("certs"));
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
    tls = MutualTls.load(certs.settings(Identity.CONTROLLER));
    try {
      server =
          NettyServerBuilder.forAddress(
                  new InetSocketAddress("127.0.0.1", 0), tls.serverCredentials())
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
                              answer(m);
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
    } catch (Exception e) {
      tls.close();
      throw e;
    }
  }

  private void answer(AgentMessage m) {
    if (m.hasRegister()) {
      send(
          MasterMessage.newBuilder()
              .setRegistered(Registered.newBuilder().setAgentId(m.getRegister().getAgentId()))
              .build());
    } else if (m.hasReregister()) {
      send(
          MasterMessage.newBuilder()
              .setReregistered(Reregistered.newBuilder().setAgentId(m.getReregister().getAgentId()))
              .build());
    }
  }

  /**
   * Makes the agents {@link #startAgent} starts serve {@code /metrics} on a free port of 127.0.0.1,
   * for {@link #metric} (by default they serve none).
   */
  ScriptedMaster withMetrics() throws IOException {
    try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      metricsPort = free.getLocalPort();
    }
    return this;
  }

  /**
   * Starts {@code kmesos-agent --master} against this master (token "agent-token", status every
   * second, metrics only {@link #withMetrics}) with this kill grace period and {@code extra} flags.
   */
  Process startAgent(LocalKubeApiServer kube, String killGracePeriod, String... extra)
      throws Exception {
    Path token = Files.writeString(dir.resolve("token"), "agent-token\n");
    Path kubeconfig = kube.writeKubeConfig(dir.resolve("kubeconfig"));
    List<String> argv =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m",
                "-cp",
                System.getProperty("java.class.path"),
                "io.kmesos.agent.AgentMain",
                "--node-name",
                nodeName,
                "--work-dir",
                work().toString(),
                "--kubeconfig",
                kubeconfig.toString(),
                "--metrics-port",
                Integer.toString(metricsPort),
                "--master",
                "127.0.0.1:" + server.getPort(),
                "--tls-dir",
                certs.dir(Identity.AGENT).toString(),
                "--token-file",
                token.toString(),
                "--status-interval",
                "1s",
                "--kill-grace-period",
                killGracePeriod));
    argv.addAll(List.of(extra));
    agentArgv = argv;
    agent =
        new ProcessBuilder(argv)
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("agent.log").toFile())
            .start();
    return agent;
  }

  /** kill -9 of the agent, then the same agent again (its output appended to the same log). */
  Process restartAgent() throws Exception {
    agent.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    agent =
        new ProcessBuilder(agentArgv)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("agent.log").toFile()))
            .start();
    return agent;
  }

  /** The agent's process (the latest, after a restart). */
  Process agent() {
    return agent;
  }

  /** The agent's work directory. */
  Path work() {
    return work;
  }

  /** What the agent wrote to its log so far. */
  String log() throws IOException {
    return Files.readString(dir.resolve("agent.log"));
  }

  /** A series' value in the agent's {@code /metrics} (-1 when absent); see {@link #withMetrics}. */
  double metric(String series) throws Exception {
    if (metricsPort == 0) {
      throw new IllegalStateException(
          "the agent serves no metrics: withMetrics() before startAgent");
    }
    if (http == null) {
      http = HttpClient.newHttpClient();
    }
    String scrape =
        http.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics"))
                    .timeout(Duration.ofSeconds(30))
                    .build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(scrape);
    return m.find() ? Double.parseDouble(m.group(1)) : -1;
  }

  /**
   * What the controller writes once it admitted the agent into the registry (on the latest version:
   * the agent reports its own status fields meanwhile), once the agent's resource exists.
   *
   * @return the agent's ID (its resource's UID)
   */
  String admit(KubernetesClient client) {
    return await()
        .atMost(PATIENCE)
        .ignoreExceptions()
        .until(
            () -> {
              Agent latest = client.resources(Agent.class).withName(nodeName).get();
              AgentStatus status =
                  latest.getStatus() == null ? new AgentStatus() : latest.getStatus();
              status.setState("Admitted");
              status.setAgentId(latest.getMetadata().getUid());
              latest.setStatus(status);
              client.resource(latest).updateStatus();
              agentId = latest.getMetadata().getUid();
              return agentId;
            },
            id -> id != null);
  }

  /** The agent's ID {@link #admit} wrote. */
  String agentId() {
    return agentId;
  }

  /** The agent's first message (its Register), once it came. */
  AgentMessage awaitFirst() {
    return await()
        .atMost(PATIENCE)
        .until(() -> received.isEmpty() ? null : received.get(0), m -> m != null);
  }

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

  /**
   * Stops the agent (SIGTERM, as its Pod's end does; SIGKILL if it is not gone within a minute) and
   * the master.
   */
  @Override
  public void close() throws Exception {
    try {
      if (agent != null) {
        agent.destroy();
        if (!agent.waitFor(60, TimeUnit.SECONDS)) {
          agent.destroyForcibly();
          agent.waitFor(30, TimeUnit.SECONDS);
        }
      }
    } finally {
      server.shutdownNow();
      tls.close();
    }
  }
}
