package io.kmesos.local;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.kmesos.api.cli.EnvironmentDefaults;
import io.kmesos.api.cli.OneLineErrors;
import io.kmesos.api.cli.VersionProvider;
import io.kmesos.api.registry.v1.Registry;
import io.kmesos.api.text.ReadableProto;
import io.kmesos.api.tls.CertificateDirectory;
import io.kmesos.api.tls.ClusterCertificates;
import io.kmesos.api.tls.Identity;
import io.kmesos.crds.KmesosCrds;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.ServiceAccountTokens;
import io.kmesos.registry.RegistryContents;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.local.LocalReplicas;
import io.kmesos.replica.state.State;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The main job on an embedded default: all of kmesos on this machine, with nothing to install by
 * hand. A real kube-apiserver + etcd on 127.0.0.1 with the kmesos CRDs, a 3-replica log (separate
 * JVMs, RocksDB), two controllers (one wins the Lease and is the master), the examples applied and
 * reconciled into the registry, two agents that run tasks, and the example framework
 * (long-running-service) running a few; it prints where everything is, how to use it, the registry
 * and the master's state, then runs until Ctrl-C, which stops everything.
 */
@Command(
    name = "kmesos-local",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description =
        "Runs kmesos on this machine: a local kube-apiserver + etcd with the kmesos CRDs, a 3-replica "
            + "log, two controllers, the examples reconciled into the registry, two agents, and the "
            + "example framework running tasks.",
    // bin/kmesos-local handles --real-node itself (a shell path: root, the node's scripts, the
    // image
    // build); this jar never sees it, but its help is the one users read.
    footer = {
      "",
      "bin/kmesos-local --real-node [--state-dir DIR] [--exit-when-ready] runs kmesos as Pods on a "
          + "real single-node Kubernetes instead (kubelet, containerd, CNI; needs root): "
          + "bin/kmesos-local --real-node --help, docs/real-node.md."
    })
public final class LocalCluster implements Callable<Integer> {
  static final String NAMESPACE = "kmesos";

  /** The nodes of the local agents (the examples' Agents stand for nodes no agent runs on). */
  static final List<String> AGENT_NODES = List.of("local-1", "local-2");

  /** The demo framework's account and role (examples/rbac/ lets it use this role). */
  static final String DEMO_NAMESPACE = "demo";

  static final String DEMO_ACCOUNT = "demo-framework";
  static final String DEMO_ROLE = "analytics";
  static final int DEMO_INSTANCES = 3;

  @Option(
      names = "--state-dir",
      defaultValue = ".kmesos-local",
      description =
          "Where the kubeconfig, the log's data and the processes' output go (default: ${DEFAULT-VALUE}).")
  Path stateDir;

  @Option(
      names = "--examples",
      defaultValue = "examples",
      description =
          "Directory of *.yaml resources to apply after the CRDs (default: ${DEFAULT-VALUE}); "
              + "its invalid/ subdirectory is not applied.")
  Path examples;

  @Option(
      names = "--no-examples",
      description =
          "Apply none of the examples' kmesos resources (the demo framework's RBAC, examples/rbac/, "
              + "is still applied).")
  boolean noExamples;

  @Option(
      names = "--exit-when-ready",
      description = "Stop as soon as everything is up (a smoke test).")
  boolean exitWhenReady;

  private final PrintStream out;
  private final List<Process> controllers = new ArrayList<>();
  private final List<Process> agents = new ArrayList<>();
  private final List<Process> frameworks = new ArrayList<>();

  LocalCluster(PrintStream out) {
    this.out = out;
  }

  public static void main(String[] args) {
    // Its own logging setup (warnings only: its output is for the user), not the processes'
    // logback.xml.
    if (System.getProperty("logback.configurationFile") == null) {
      System.setProperty("logback.configurationFile", "kmesos-local-logback.xml");
    }
    System.exit(OneLineErrors.commandLine(new LocalCluster(System.out)).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    long t0 = System.nanoTime();
    out.println(
        "kmesos-local: starting kube-apiserver "
            + LocalKubeApiServer.KUBE_VERSION
            + " + etcd on 127.0.0.1 ...");
    LocalKubeApiServer server = LocalKubeApiServer.start();
    Path logDir = stateDir.resolve("log");
    deleteTree(logDir); // every run starts a new cluster: the API server's data is discarded too
    // The CA outlives a run (as a cluster's does): the certificates in it can be handed to tools.
    Path tls = stateDir.resolve("tls").toAbsolutePath();
    LocalReplicas replicas =
        new LocalReplicas(logDir, 3, List.of("-Xmx256m"), new CertificateDirectory(tls))
            .dieWithLauncher();
    Supervisor supervisor =
        new Supervisor(out, "kube-apiserver " + server.url(), () -> answers(server));
    CountDownLatch stopped = new CountDownLatch(1);
    Thread stopper =
        new Thread(
            () -> {
              supervisor.stopping();
              out.println(
                  "kmesos-local: stopping the framework, the agents (and their tasks), the controllers, "
                      + "the log's replicas, kube-apiserver and etcd");
              // The framework first (it ends its tasks' framework), then the agents, which kill
              // their tasks when they stop: nothing is left running.
              frameworks.forEach(Process::destroy);
              frameworks.forEach(LocalCluster::awaitExit);
              agents.forEach(Process::destroy);
              agents.forEach(LocalCluster::awaitExit);
              controllers.forEach(Process::destroy);
              controllers.forEach(LocalCluster::awaitExit);
              try {
                replicas.close();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              server.close();
              out.println("kmesos-local: stopped");
              stopped.countDown();
            },
            "kmesos-local-stop");
    Runtime.getRuntime().addShutdownHook(stopper);

    Path kubeconfig = server.writeKubeConfig(stateDir.resolve("kubeconfig")).toAbsolutePath();
    KubernetesClient client = server.newClient();
    List<CustomResourceDefinition> crds = KmesosCrds.install(client, Duration.ofSeconds(60));
    client
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(NAMESPACE).endMetadata().build())
        .serverSideApply();

    out.println("kmesos-local: starting a 3-replica log and two controllers ...");
    replicas.startAll();
    for (int i = 0; i < 3; i++) {
      supervisor.watch("replica " + i + " of the log", replicas.process(i), replicas.logFile(i));
    }
    supervisor.start();
    replicas.initialize("kmesos-local", Duration.ofMinutes(2));
    String peers = String.join(",", replicas.peers());
    // Fixed ports picked now, so that agents, frameworks and the user can be told where the
    // masters are (a controller given port 0 would tell nobody).
    List<String> masters = new ArrayList<>();
    for (int i = 1; i <= 2; i++) {
      int port = freePort();
      masters.add("127.0.0.1:" + port);
      Path output = stateDir.resolve("controller-" + i + ".log");
      Process controller =
          Controllers.start(
              "controller-" + i, replicas, kubeconfig, NAMESPACE, List.of(), port, output);
      controllers.add(controller);
      supervisor.watch("controller-" + i, controller, output);
    }
    List<HasMetadata> applied = noExamples ? List.of() : applyExamples(client);
    long ready = awaitReady(client, applied, Duration.ofSeconds(120));
    primeKubectlDiscovery(kubeconfig);

    // The agents: each with the agent certificate and a token bound to a pod on its node, as the
    // agent DaemonSet's pods have them.
    out.println("kmesos-local: starting two agents and the example framework ...");
    CertificateDirectory certificates = replicas.certificates();
    ClusterCertificates.ensure(
        certificates,
        new ClusterCertificates.Settings(
            List.of(Identity.AGENT),
            Map.of(),
            ClusterCertificates.Settings.DEFAULT_CA_VALIDITY,
            ClusterCertificates.Settings.DEFAULT_VALIDITY,
            false),
        Instant.now());
    ServiceAccountTokens tokens = new ServiceAccountTokens(client);
    Path tokenDir = Files.createDirectories(stateDir.resolve("tokens")).toAbsolutePath();
    for (String node : AGENT_NODES) {
      Path token =
          writeToken(
              tokenDir.resolve("agent-" + node),
              tokens.podBoundToken(NAMESPACE, "kmesos-agent", node));
      Path output = stateDir.resolve("agent-" + node + ".log");
      Process agent =
          Agents.start(
              node,
              masters,
              kubeconfig,
              certificates.dir(Identity.AGENT),
              token,
              stateDir.resolve("agents").resolve(node).toAbsolutePath(),
              output);
      agents.add(agent);
      supervisor.watch("agent " + node, agent, output);
    }
    // The demo framework's account, allowed the roles analytics and ml/training.
    Path rbac = examples.resolve("rbac");
    if (!Files.isDirectory(rbac)) {
      throw new IllegalArgumentException(
          rbac.toAbsolutePath()
              + " is not a directory: the demo framework's RBAC is there (run from the repository root)");
    }
    applyAll(client, rbac);
    Path demoToken =
        writeToken(tokenDir.resolve(DEMO_ACCOUNT), tokens.token(DEMO_NAMESPACE, DEMO_ACCOUNT));
    Path ca = certificates.dir(Identity.ADMIN).resolve("ca.crt");
    Path frameworkOutput = stateDir.resolve("long-running-service.log");
    Process framework =
        javaProcess(
            "io.kmesos.examples.longrunning.LongRunningService",
            List.of(
                "--master",
                String.join(",", masters),
                "--tls-ca",
                ca.toString(),
                "--token-file",
                demoToken.toString(),
                "--name",
                "long-running-service",
                "--instances",
                Integer.toString(DEMO_INSTANCES),
                "--command",
                "while true; do date; sleep 5; done",
                "--resources",
                "cpus:0.1;mem:32",
                "--role",
                DEMO_ROLE,
                // Ctrl-C stops the agents, and checkpointed tasks would outlive them: the demo's
                // tasks end with the agents instead.
                "--no-checkpoint"),
            frameworkOutput);
    frameworks.add(framework);
    supervisor.watch("the example framework", framework, frameworkOutput);
    renewTokens(tokens, tokenDir);
    // Generous: on a busy machine four JVMs (two agents, the framework, kmesos-state) start here.
    int running = awaitTasksRunning(client, DEMO_INSTANCES, Duration.ofSeconds(240));
    String operatorView = state(masters, certificates.dir(Identity.ADMIN));
    String leader = leader(client);
    Registry registry;
    try (Log log = replicas.client()) {
      State.Contents read = State.read(log, Duration.ofSeconds(30));
      registry = RegistryContents.of(read.variables(), read.sequence()).toProto();
    }

    out.printf("kmesos-local: ready in %.1f s%n", (System.nanoTime() - t0) / 1e9);
    out.println();
    out.println(
        "  kube-apiserver  "
            + server.url()
            + "   (Kubernetes v"
            + LocalKubeApiServer.KUBE_VERSION
            + ", real etcd)");
    out.println("  kubeconfig      " + kubeconfig);
    out.println(
        "  CRDs            "
            + String.join(", ", crds.stream().map(c -> c.getMetadata().getName()).toList()));
    out.println(
        "  log             " + peers + "   (3 replicas, data in " + logDir.toAbsolutePath() + ")");
    out.println("  TLS             mutual TLS on every connection; CA and certificates in " + tls);
    out.println(
        "  controllers     controller-1, controller-2; the master (Lease "
            + NAMESPACE
            + "/kmesos-master) is "
            + leader
            + "   (output in "
            + stateDir.toAbsolutePath()
            + "/controller-*.log)");
    out.println(
        "  master          "
            + String.join(",", masters)
            + "   (Scheduler, AgentSession, Operator; the leader answers, a standby names it)");
    out.println(
        "  agents          "
            + String.join(", ", AGENT_NODES)
            + "   (kmesos-agent --master; output in "
            + stateDir.toAbsolutePath()
            + "/agent-*.log)");
    out.println(
        "  framework       long-running-service as ServiceAccount "
            + DEMO_NAMESPACE
            + "/"
            + DEMO_ACCOUNT
            + ", role "
            + DEMO_ROLE
            + ": "
            + running
            + " of "
            + DEMO_INSTANCES
            + " tasks running   (output in "
            + frameworkOutput.toAbsolutePath()
            + ")");
    out.println(
        "  examples        "
            + (applied.isEmpty()
                ? "none applied"
                : applied.size()
                    + " applied: "
                    + String.join(
                        ", ",
                        applied.stream()
                            .map(h -> h.getKind() + "/" + h.getMetadata().getName())
                            .toList())));
    out.println(
        "  reconciled      "
            + ready
            + " of "
            + applied.size()
            + " Ready in the registry (version "
            + registry.getVersion()
            + ")");
    out.println();
    out.println("  Try it (another terminal):");
    out.println("    export KMESOS_MASTER=" + String.join(",", masters));
    out.println(
        "    export KMESOS_TLS_DIR="
            + certificates.dir(Identity.ADMIN)
            + "   # the admin certificate and the CA");
    out.println(
        "    java -jar framework/target/kmesos-framework.jar --token-file "
            + demoToken
            + " --role "
            + DEMO_ROLE
            + " --name hello --command 'echo hello; exit 3' --resources 'cpus:0.1;mem:32'");
    out.println("    export KUBECONFIG=" + kubeconfig);
    out.println(
        "    export PATH="
            + LocalKubeApiServer.binaryDirectory()
            + ":$PATH   # kubectl "
            + LocalKubeApiServer.KUBE_VERSION.replaceAll("\\.\\d+$", ""));
    out.println("    kubectl get kmesos   # the agents show their tasks and free resources");
    out.println(
        "    java -cp framework/target/kmesos-framework.jar io.kmesos.framework.state.StateCommand   # kmesos-state");
    out.println(
        "    kubectl apply -f examples/invalid/quota-guarantee-above-limit.yaml   # rejected, naming the field");
    out.println("    java -jar registry/target/kmesos-registry.jar show --peers " + peers);
    out.println("    java -jar replica/target/kmesos-replica.jar read --decode --peers " + peers);
    out.println();
    out.println("  The registry now (kmesos-registry show):");
    ReadableProto.yaml(registry).lines().forEach(l -> out.println("    " + l));
    out.println();
    out.println("  The master now (kmesos-state):");
    operatorView.strip().lines().forEach(l -> out.println(l.isBlank() ? "" : "    " + l));
    out.println();
    if (exitWhenReady) {
      return 0; // main's System.exit runs the shutdown hook, which stops everything
    }
    out.println("kmesos-local: running; press Ctrl-C to stop");
    stopped.await();
    return 0;
  }

  /**
   * Waits until every applied resource reports Ready for its current generation; returns how many
   * do.
   */
  static long awaitReady(KubernetesClient client, List<HasMetadata> applied, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    long ready = 0;
    while (System.nanoTime() < deadline) {
      ready = applied.stream().filter(r -> isReady(client.resource(r).get())).count();
      if (ready == applied.size()) {
        break;
      }
      Thread.sleep(200);
    }
    return ready;
  }

  private static boolean isReady(HasMetadata r) {
    if (!(r instanceof GenericKubernetesResource g)
        || !(g.getAdditionalProperties().get("status") instanceof Map<?, ?> status)) {
      return false;
    }
    Object generation = status.get("observedGeneration");
    if (!(generation instanceof Number n) || n.longValue() != r.getMetadata().getGeneration()) {
      return false;
    }
    Object conditions = status.get("conditions");
    return conditions instanceof List<?> list
        && list.stream()
            .anyMatch(
                c ->
                    c instanceof Map<?, ?> m
                        && "Ready".equals(m.get("type"))
                        && "True".equals(m.get("status")));
  }

  /**
   * Whether the API server still listens (its process is not ours to watch: kube-api-test runs it).
   */
  private static boolean answers(LocalKubeApiServer server) {
    URI url = URI.create(server.url());
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(url.getHost(), url.getPort()), 2000);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  static String leader(KubernetesClient client) {
    Lease lease = client.leases().inNamespace(NAMESPACE).withName("kmesos-master").get();
    return lease == null || lease.getSpec() == null
        ? "(none yet)"
        : lease.getSpec().getHolderIdentity();
  }

  private static void awaitExit(Process p) {
    try {
      if (!p.waitFor(15, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  /**
   * kubectl resolves a category ({@code kubectl get kmesos}) only from its discovery cache, and on
   * the very first call against a new server that cache is empty, so the call fails
   * (kubernetes/kubectl#1231). One {@code kubectl api-resources} fills the cache, so the first
   * command a user types works.
   */
  private void primeKubectlDiscovery(Path kubeconfig) throws InterruptedException {
    Path kubectl = LocalKubeApiServer.binaryDirectory().resolve("kubectl");
    try {
      Process p =
          new ProcessBuilder(
                  kubectl.toString(),
                  "--kubeconfig",
                  kubeconfig.toString(),
                  "api-resources",
                  "--api-group",
                  "kmesos.io",
                  "-o",
                  "name")
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        out.println(
            "kmesos-local: note: could not prime kubectl's discovery cache; the first 'kubectl get kmesos' may fail once");
      }
    } catch (IOException e) {
      out.println("kmesos-local: note: no kubectl at " + kubectl + " (" + e.getMessage() + ")");
    }
  }

  /**
   * Server-side applies every resource in {@code examples/*.yaml}; returns what the API server
   * holds.
   */
  private List<HasMetadata> applyExamples(KubernetesClient client) throws IOException {
    if (!Files.isDirectory(examples)) {
      throw new IllegalArgumentException(
          "--examples "
              + examples.toAbsolutePath()
              + " is not a directory (run from the repository root, or pass --no-examples)");
    }
    return applyAll(client, examples);
  }

  /**
   * Server-side applies every resource in {@code dir/*.yaml}; returns what the API server holds.
   */
  private static List<HasMetadata> applyAll(KubernetesClient client, Path dir) throws IOException {
    List<Path> files;
    try (Stream<Path> s = Files.list(dir)) {
      files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
    }
    List<HasMetadata> applied = new ArrayList<>();
    for (Path file : files) {
      try (InputStream in = Files.newInputStream(file)) {
        for (HasMetadata item : client.load(in).items()) {
          try {
            applied.add(
                client
                    .resource(item)
                    .fieldManager("kmesos-local")
                    .forceConflicts()
                    .serverSideApply());
          } catch (KubernetesClientException e) {
            throw new IllegalStateException(
                file
                    + ": "
                    + item.getKind()
                    + "/"
                    + item.getMetadata().getName()
                    + " was rejected: "
                    + e.getMessage(),
                e);
          }
        }
      }
    }
    return applied;
  }

  /** A port nobody listens on now (the controllers are started right after). */
  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /**
   * Starts {@code mainClass} of this JVM's class path as a process of its own, output to {@code
   * output}; it dies with the launching thread where the system allows it.
   */
  static Process javaProcess(String mainClass, List<String> args, Path output) throws IOException {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx128m",
                "-cp",
                System.getProperty("java.class.path"),
                mainClass));
    cmd.addAll(args);
    ProcessBuilder p =
        new ProcessBuilder(LocalReplicas.tiedToLauncher(cmd))
            .redirectErrorStream(true)
            .redirectOutput(output.toFile());
    EnvironmentDefaults.removeOptions(p.environment()); // its options are all given
    return p.start();
  }

  /**
   * Waits until the local agents report {@code n} tasks running in their Agents' status (what
   * {@code kubectl get agents} shows); returns how many they report.
   */
  static int awaitTasksRunning(KubernetesClient client, int n, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    int running = 0;
    while (System.nanoTime() < deadline) {
      running =
          AGENT_NODES.stream()
              .map(node -> client.resources(Agent.class).withName(node).get())
              .filter(Objects::nonNull)
              .filter(a -> a.getStatus() != null && a.getStatus().getTasksRunning() != null)
              .mapToInt(a -> a.getStatus().getTasksRunning())
              .sum();
      if (running >= n) {
        break;
      }
      Thread.sleep(500);
    }
    return running;
  }

  /**
   * The master's state as kmesos-state prints it (run as a process, with the admin certificate); a
   * line saying why when it could not be read.
   */
  private String state(List<String> masters, Path adminTls)
      throws IOException, InterruptedException {
    Path output = stateDir.resolve("kmesos-state.out");
    Process p =
        javaProcess(
            "io.kmesos.framework.state.StateCommand",
            List.of("--master", String.join(",", masters), "--tls-dir", adminTls.toString()),
            output);
    if (!p.waitFor(90, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return "(kmesos-state did not answer within 90 s)";
    }
    String text = Files.readString(output);
    return p.exitValue() == 0
        ? text
        : "(kmesos-state failed with status " + p.exitValue() + ")\n" + text;
  }

  /** Writes {@code token} to {@code file} whole (a reader sees the old token or the new one). */
  private static Path writeToken(Path file, String token) throws IOException {
    Path next = Files.writeString(file.resolveSibling(file.getFileName() + ".next"), token);
    return Files.move(
        next, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /**
   * The tokens expire after {@link ServiceAccountTokens#DEFAULT_EXPIRY}, as a pod's projected token
   * does: they are renewed well before (the agents and the framework read their token file again on
   * every connect), for as long as kmesos-local runs.
   */
  private void renewTokens(ServiceAccountTokens tokens, Path tokenDir) {
    ScheduledExecutorService renewer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "kmesos-local-tokens");
              t.setDaemon(true);
              return t;
            });
    long every = ServiceAccountTokens.DEFAULT_EXPIRY.toMinutes() / 3;
    renewer.scheduleWithFixedDelay(
        () -> {
          try {
            for (String node : AGENT_NODES) {
              writeToken(
                  tokenDir.resolve("agent-" + node),
                  tokens.podBoundToken(NAMESPACE, "kmesos-agent", node));
            }
            writeToken(tokenDir.resolve(DEMO_ACCOUNT), tokens.token(DEMO_NAMESPACE, DEMO_ACCOUNT));
          } catch (IOException | RuntimeException e) {
            out.println("kmesos-local: could not renew the tokens in " + tokenDir + ": " + e);
          }
        },
        every,
        every,
        TimeUnit.MINUTES);
  }
}
