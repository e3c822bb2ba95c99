package io.kmesos.local;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.kmesos.api.cli.VersionProvider;
import io.kmesos.crds.KmesosCrds;
import io.kmesos.devcluster.LocalKubeApiServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The main job on an embedded default: everything kmesos has, on this machine, with nothing to
 * install by hand. Today that is a real kube-apiserver + etcd on 127.0.0.1 with the kmesos CRDs
 * installed and the examples applied; it prints where everything is and runs until Ctrl-C.
 */
@Command(name = "kmesos-local", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
    description = "Runs kmesos on this machine: a local kube-apiserver + etcd with the kmesos CRDs and examples.")
public final class LocalCluster implements Callable<Integer> {
  @Option(names = "--state-dir", defaultValue = ".kmesos-local",
      description = "Where the kubeconfig is written (default: ${DEFAULT-VALUE}).")
  Path stateDir;

  @Option(names = "--examples", defaultValue = "examples",
      description = "Directory of *.yaml resources to apply after the CRDs (default: ${DEFAULT-VALUE}); "
          + "its invalid/ subdirectory is not applied.")
  Path examples;

  @Option(names = "--no-examples", description = "Install the CRDs only.")
  boolean noExamples;

  @Option(names = "--exit-when-ready", description = "Stop as soon as everything is up (a smoke test).")
  boolean exitWhenReady;

  private final PrintStream out;

  LocalCluster(PrintStream out) {
    this.out = out;
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new LocalCluster(System.out)).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    long t0 = System.nanoTime();
    out.println("kmesos-local: starting kube-apiserver " + LocalKubeApiServer.KUBE_VERSION + " + etcd on 127.0.0.1 ...");
    LocalKubeApiServer server = LocalKubeApiServer.start();
    CountDownLatch stopped = new CountDownLatch(1);
    Thread stopper = new Thread(() -> {
      out.println("kmesos-local: stopping kube-apiserver and etcd (their data is discarded)");
      server.close();
      out.println("kmesos-local: stopped");
      stopped.countDown();
    }, "kmesos-local-stop");
    Runtime.getRuntime().addShutdownHook(stopper);

    Path kubeconfig = server.writeKubeConfig(stateDir.resolve("kubeconfig")).toAbsolutePath();
    KubernetesClient client = server.newClient();
    List<CustomResourceDefinition> crds = KmesosCrds.install(client, Duration.ofSeconds(60));
    List<String> applied = noExamples ? List.of() : applyExamples(client);
    primeKubectlDiscovery(kubeconfig);

    out.printf("kmesos-local: ready in %.1f s%n", (System.nanoTime() - t0) / 1e9);
    out.println();
    out.println("  kube-apiserver  " + server.url() + "   (Kubernetes v" + LocalKubeApiServer.KUBE_VERSION + ", real etcd)");
    out.println("  kubeconfig      " + kubeconfig);
    out.println("  CRDs            " + String.join(", ", crds.stream().map(c -> c.getMetadata().getName()).toList()));
    out.println("  examples        " + (applied.isEmpty() ? "none applied" : applied.size() + " applied: " + String.join(", ", applied)));
    out.println();
    out.println("  Try it (another terminal):");
    out.println("    export KUBECONFIG=" + kubeconfig);
    out.println("    export PATH=" + LocalKubeApiServer.binaryDirectory() + ":$PATH   # kubectl " + LocalKubeApiServer.KUBE_VERSION.replaceAll("\\.\\d+$", ""));
    out.println("    kubectl get kmesos");
    out.println("    kubectl apply -f examples/invalid/quota-guarantee-above-limit.yaml   # rejected, naming the field");
    out.println();
    if (exitWhenReady) {
      return 0; // main's System.exit runs the shutdown hook, which stops the API server
    }
    out.println("kmesos-local: running; press Ctrl-C to stop");
    stopped.await();
    return 0;
  }

  /**
   * kubectl resolves a category ({@code kubectl get kmesos}) only from its discovery cache, and on the
   * very first call against a new server that cache is empty, so the call fails (kubernetes/kubectl#1231).
   * One {@code kubectl api-resources} fills the cache, so the first command a user types works.
   */
  private void primeKubectlDiscovery(Path kubeconfig) throws InterruptedException {
    Path kubectl = LocalKubeApiServer.binaryDirectory().resolve("kubectl");
    try {
      Process p = new ProcessBuilder(kubectl.toString(), "--kubeconfig", kubeconfig.toString(),
          "api-resources", "--api-group", "kmesos.io", "-o", "name")
          .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      if (!p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        out.println("kmesos-local: note: could not prime kubectl's discovery cache; the first 'kubectl get kmesos' may fail once");
      }
    } catch (IOException e) {
      out.println("kmesos-local: note: no kubectl at " + kubectl + " (" + e.getMessage() + ")");
    }
  }

  /** Server-side applies every resource in {@code examples/*.yaml}; returns "Kind/name" for each. */
  private List<String> applyExamples(KubernetesClient client) throws IOException {
    if (!Files.isDirectory(examples)) {
      throw new IllegalArgumentException("--examples " + examples.toAbsolutePath()
          + " is not a directory (run from the repository root, or pass --no-examples)");
    }
    List<Path> files;
    try (Stream<Path> s = Files.list(examples)) {
      files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
    }
    List<String> applied = new ArrayList<>();
    for (Path file : files) {
      try (InputStream in = Files.newInputStream(file)) {
        for (HasMetadata item : client.load(in).items()) {
          try {
            client.resource(item).fieldManager("kmesos-local").forceConflicts().serverSideApply();
          } catch (KubernetesClientException e) {
            throw new IllegalStateException(file + ": " + item.getKind() + "/" + item.getMetadata().getName()
                + " was rejected: " + e.getMessage(), e);
          }
          applied.add(item.getKind() + "/" + item.getMetadata().getName());
        }
      }
    }
    return applied;
  }
}
