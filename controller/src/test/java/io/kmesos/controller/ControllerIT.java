package io.kmesos.controller;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.api.model.events.v1.Event;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.kmesos.api.registry.v1.MachineMode;
import io.kmesos.api.registry.v1.Registry;
import io.kmesos.api.state.v1.Entry;
import io.kmesos.api.tls.Identity;
import io.kmesos.crds.v1alpha1.Agent;
import io.kmesos.crds.v1alpha1.AgentSpec;
import io.kmesos.crds.v1alpha1.MachineId;
import io.kmesos.crds.v1alpha1.MaintenanceSchedule;
import io.kmesos.crds.v1alpha1.MaintenanceScheduleSpec;
import io.kmesos.crds.v1alpha1.MaintenanceWindow;
import io.kmesos.crds.v1alpha1.Quota;
import io.kmesos.crds.v1alpha1.QuotaSpec;
import io.kmesos.crds.v1alpha1.RegistryStatus;
import io.kmesos.crds.v1alpha1.Weight;
import io.kmesos.crds.v1alpha1.WeightSpec;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.WithKubeApiServer;
import io.kmesos.registry.RegistryContents;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.client.LogEntry;
import io.kmesos.replica.local.LocalReplicas;
import io.kmesos.replica.state.State;
import java.io.FileInputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two controller processes against a real kube-apiserver + etcd and a 3-replica log of separate
 * JVMs: the examples reconciled into the registry and back into status, idempotence, deletion,
 * maintenance, a paused (SIGSTOP) leader fenced after it lost its Lease, and failover after kill
 * -9.
 */
@WithKubeApiServer
class ControllerIT {
  /**
   * How long a test waits for what only takes time (controller JVMs starting, a Lease changing
   * hands, a reconcile): generous, because the machine may be small and busy.
   */
  static final Duration PATIENCE = Duration.ofMinutes(2);

  static final String NS = ControllerProcesses.NAMESPACE;
  static final Path EXAMPLES = Path.of("../examples");

  static final Map<String, Class<? extends CustomResource<?, ? extends RegistryStatus>>> KINDS =
      Map.of(
          "Agent",
          Agent.class,
          "Quota",
          Quota.class,
          "Weight",
          Weight.class,
          "MaintenanceSchedule",
          MaintenanceSchedule.class);

  static KubernetesClient client;
  static Path kubeconfig;

  @TempDir Path dir;
  LocalReplicas replicas;
  Log log;
  final List<Process> controllers = new ArrayList<>();

  @BeforeAll
  static void cluster(LocalKubeApiServer server, KubernetesClient k8s, @TempDir Path tmp)
      throws Exception {
    client = k8s;
    kubeconfig = ControllerProcesses.prepare(server, client, tmp, PATIENCE);
  }

  @BeforeEach
  void start() throws Exception {
    replicas =
        new LocalReplicas(dir.resolve("log"), 3, List.of("-Xmx256m", "-XX:TieredStopAtLevel=1"))
            .startAll();
    replicas.initialize("controller-it", PATIENCE);
    log = replicas.client();
  }

  @AfterEach
  void stop() throws Exception {
    ControllerProcesses.killAll(controllers, client);
    // Each test starts from an empty registry: drop the resources (and their finalizers).
    for (Class<? extends HasMetadata> kind :
        List.of(Agent.class, Quota.class, Weight.class, MaintenanceSchedule.class)) {
      for (HasMetadata r : client.resources(kind).list().getItems()) {
        client
            .resource(r)
            .edit(
                x -> {
                  x.getMetadata().setFinalizers(List.of());
                  return x;
                });
        client.resource(r).withGracePeriod(0).delete();
      }
    }
    // Either may be missing when start() failed (replicas too slow to start): the replicas that did
    // start must not outlive the test.
    if (log != null) {
      log.close();
    }
    if (replicas != null) {
      replicas.close(); // also when start() failed: leaked replicas would load every later test
    }
  }

  Process controller(String identity) throws Exception {
    return controller(identity, 0);
  }

  Process controller(String identity, int metricsPort, String... more) throws Exception {
    List<String> flags = new ArrayList<>(List.of("--agent-removal-rate-limit", "1/3s"));
    flags.addAll(List.of(more));
    Process p =
        ControllerProcesses.start(
            kubeconfig,
            String.join(",", replicas.peers()),
            replicas.certificates().dir(Identity.CONTROLLER),
            dir,
            identity,
            metricsPort,
            flags.toArray(String[]::new));
    controllers.add(p);
    return p;
  }

  String leader() {
    return ControllerProcesses.leader(client);
  }

  List<HasMetadata> applyExamples() throws Exception {
    List<HasMetadata> applied = new ArrayList<>();
    try (var files = Files.list(EXAMPLES)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
        try (var in = new FileInputStream(f.toFile())) {
          for (HasMetadata r : client.load(in).items()) {
            applied.add(
                client.resource(r).fieldManager("gitops").forceConflicts().serverSideApply());
          }
        }
      }
    }
    return applied;
  }

  Registry registry() throws Exception {
    State.Contents read = State.read(log, PATIENCE);
    return RegistryContents.of(read.variables(), read.sequence()).toProto();
  }

  static boolean ready(RegistryStatus status, long generation) {
    if (status == null
        || status.getObservedGeneration() == null
        || status.getObservedGeneration() != generation) {
      return false;
    }
    return status.getConditions().stream()
        .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True"));
  }

  static Condition readyCondition(RegistryStatus status) {
    return status.getConditions().stream()
        .filter(c -> c.getType().equals("Ready"))
        .findFirst()
        .orElseThrow();
  }

  @Test
  void theExamplesAreReconciledIntoTheRegistryAndStatusSaysSo() throws Exception {
    int probes;
    try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      probes = free.getLocalPort();
    }
    controller("c1", probes);
    controller("c2");
    // The Deployment's probes: both answer once the operator runs, leader or not.
    HttpClient http = HttpClient.newHttpClient();
    for (String path : List.of("/healthz", "/readyz")) {
      await()
          .atMost(PATIENCE)
          .ignoreExceptions()
          .untilAsserted(
              () -> {
                var answer =
                    http.send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + probes + path))
                            .timeout(Duration.ofSeconds(30))
                            .build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(answer.statusCode()).as(path + ": " + answer.body()).isEqualTo(200);
              });
    }
    List<HasMetadata> applied = applyExamples();
    assertThat(applied).hasSize(9);

    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () -> {
              for (HasMetadata r : applied) {
                var now =
                    client
                        .resources(KINDS.get(r.getKind()))
                        .withName(r.getMetadata().getName())
                        .get();
                RegistryStatus status = (RegistryStatus) now.getStatus();
                assertThat(ready(status, now.getMetadata().getGeneration()))
                    .as(now.getKind() + "/" + now.getMetadata().getName())
                    .isTrue();
              }
            });
    Registry r = registry();
    assertThat(r.getMaster().getHostname()).isIn("c1", "c2").isEqualTo(leader());
    assertThat(r.getAgentsList())
        .extracting(a -> a.getInfo().getHostname())
        .containsExactlyInAnyOrder(
            "node-a.cluster.local", "node-b.cluster.local", "node-gpu-1.cluster.local");
    var nodeA = client.resources(Agent.class).withName("node-a").get();
    assertThat(nodeA.getStatus().getAgentId()).isEqualTo(nodeA.getMetadata().getUid());
    assertThat(nodeA.getStatus().getState()).isEqualTo("Admitted");
    assertThat(r.getAgentsList())
        .filteredOn(a -> a.getInfo().getId().equals(nodeA.getMetadata().getUid()))
        .singleElement()
        .satisfies(a -> assertThat(a.getInfo().getResourcesMap()).containsEntry("cpus", 16.0));
    assertThat(r.getQuotasList())
        .extracting(q -> q.getRole())
        .containsExactlyInAnyOrder("analytics", "ml", "ml/training");
    assertThat(r.getWeightsList())
        .extracting(w -> w.getRole() + "=" + w.getWeight())
        .containsExactlyInAnyOrder("analytics=2.0", "batch=0.5");
    assertThat(r.getSchedulesList())
        .extracting(s -> s.getName())
        .containsExactly("december-kernel-upgrade");
    assertThat(r.getMachinesList())
        .hasSize(3)
        .allSatisfy(m -> assertThat(m.getMode()).isEqualTo(MachineMode.DRAINING));

    // Applying the same files again changes nothing: no new resourceVersion, no new registry
    // change.
    Map<String, String> versions = new HashMap<>();
    applied.forEach(
        a ->
            versions.put(
                a.getKind() + "/" + a.getMetadata().getName(),
                client.resource(a).get().getMetadata().getResourceVersion()));
    long registryVersion = registry().getVersion();
    for (HasMetadata again : applyExamples()) {
      assertThat(again.getMetadata().getResourceVersion())
          .as(again.getKind() + "/" + again.getMetadata().getName())
          .isEqualTo(versions.get(again.getKind() + "/" + again.getMetadata().getName()));
    }
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                assertThat(registry().getVersion())
                    .as("re-reconciling wrote nothing")
                    .isEqualTo(registryVersion));

    // A spec change reaches the registry and status follows it.
    Quota analytics =
        client
            .resources(Quota.class)
            .withName("analytics")
            .edit(
                q -> {
                  q.getSpec().getLimits().put("cpus", 32.0);
                  return q;
                });
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                ready(
                    client.resources(Quota.class).withName("analytics").get().getStatus(),
                    analytics.getMetadata().getGeneration()));
    assertThat(registry().getQuotasList())
        .filteredOn(q -> q.getRole().equals("analytics"))
        .singleElement()
        .satisfies(q -> assertThat(q.getLimitsMap()).containsEntry("cpus", 32.0));
    assertThat(
            client
                .resources(Quota.class)
                .withName("analytics")
                .get()
                .getStatus()
                .getRegistryVersion())
        .isGreaterThan(registryVersion);

    // A second Quota for a role that already has one reports the conflict and changes nothing.
    Quota rival = new Quota();
    rival.getMetadata().setName("analytics-too");
    rival.setSpec(new QuotaSpec());
    rival.getSpec().setRole("analytics");
    rival.getSpec().getLimits().put("cpus", 1.0);
    client.resource(rival).create();
    await()
        .atMost(PATIENCE)
        .until(
            () -> {
              RegistryStatus s =
                  client.resources(Quota.class).withName("analytics-too").get().getStatus();
              return s != null
                  && !s.getConditions().isEmpty()
                  && readyCondition(s).getReason().equals("RoleConflict");
            });
    assertThat(registry().getQuotasList())
        .filteredOn(q -> q.getRole().equals("analytics"))
        .singleElement()
        .satisfies(q -> assertThat(q.getLimitsMap()).containsEntry("cpus", 32.0));

    // Maintenance: a machine listed in spec.down goes DOWN.
    client
        .resources(MaintenanceSchedule.class)
        .withName("december-kernel-upgrade")
        .edit(
            ms -> {
              ms.getSpec().getDown().add(new MachineId("node-a.cluster.local", null));
              return ms;
            });
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () ->
                assertThat(registry().getMachinesList())
                    .filteredOn(m -> m.getMode() == MachineMode.DOWN)
                    .extracting(m -> m.getId().getHostname())
                    .containsExactly("node-a.cluster.local"));
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () ->
                assertThat(
                        client
                            .resources(MaintenanceSchedule.class)
                            .withName("december-kernel-upgrade")
                            .get()
                            .getStatus()
                            .getMachines())
                    .filteredOn(m -> "Down".equals(m.getMode()))
                    .extracting(m -> m.getHostname())
                    .containsExactly("node-a.cluster.local"));

    // Deleting removes the entry from the registry before the object goes.
    client.resources(Weight.class).withName("batch").delete();
    await()
        .atMost(PATIENCE)
        .until(() -> client.resources(Weight.class).withName("batch").get() == null);
    assertThat(registry().getWeightsList())
        .extracting(w -> w.getRole())
        .containsExactly("analytics");
    // Two agents deleted at once: the removal rate limit (1 per 3 s here) lets one go, holds the
    // other.
    client.resources(Agent.class).withName("node-b").delete();
    client.resources(Agent.class).withName("node-gpu-1").delete();
    List<String> hostnames = new ArrayList<>();
    await()
        .atMost(PATIENCE)
        .pollInterval(Duration.ofMillis(50))
        .until(
            () -> {
              hostnames.clear();
              registry().getAgentsList().forEach(a -> hostnames.add(a.getInfo().getHostname()));
              return hostnames.size() < 3;
            });
    assertThat(hostnames)
        .as("the first removal is in the registry, the second held back")
        .hasSize(2);
    await()
        .during(Duration.ofMillis(1500))
        .atMost(Duration.ofSeconds(3))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> registry().getAgentsCount() == 2);
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                client.resources(Agent.class).withName("node-b").get() == null
                    && client.resources(Agent.class).withName("node-gpu-1").get() == null);
    assertThat(registry().getAgentsList())
        .extracting(a -> a.getInfo().getHostname())
        .containsExactly("node-a.cluster.local");

    // Deleting the Quota that owns a role hands the role to the next oldest, and its status
    // follows.
    client.resources(Quota.class).withName("analytics").delete();
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () ->
                assertThat(registry().getQuotasList())
                    .filteredOn(q -> q.getRole().equals("analytics"))
                    .singleElement()
                    .satisfies(q -> assertThat(q.getLimitsMap()).containsEntry("cpus", 1.0)));
    await()
        .atMost(PATIENCE)
        .until(
            () -> {
              Quota successor = client.resources(Quota.class).withName("analytics-too").get();
              return ready(successor.getStatus(), successor.getMetadata().getGeneration());
            });
  }

  /**
   * One object of each kind, as a GitOps repository would hold it, with these labels and
   * annotations.
   */
  static List<HasMetadata> gitOpsObjects(
      Map<String, String> labels, Map<String, String> annotations) {
    Agent agent = new Agent();
    agent.setSpec(new AgentSpec());
    agent.getSpec().setHostname("gitops-node.cluster.local");
    agent.getSpec().setResources(new LinkedHashMap<>(Map.of("cpus", 4.0)));
    Quota quota = new Quota();
    quota.setSpec(new QuotaSpec());
    quota.getSpec().setRole("gitops");
    quota.getSpec().setLimits(new LinkedHashMap<>(Map.of("cpus", 8.0)));
    Weight weight = new Weight();
    weight.setSpec(new WeightSpec());
    weight.getSpec().setRole("gitops");
    weight.getSpec().setWeight(3.0);
    MaintenanceSchedule schedule = new MaintenanceSchedule();
    schedule.setSpec(new MaintenanceScheduleSpec());
    MaintenanceWindow window = new MaintenanceWindow();
    window.setStart("2026-12-05T02:00:00Z");
    window.setDurationSeconds(3600L);
    window.getMachines().add(new MachineId("gitops-node.cluster.local", null));
    schedule.getSpec().getWindows().add(window);
    List<HasMetadata> objects = List.of(agent, quota, weight, schedule);
    for (HasMetadata o : objects) {
      o.setMetadata(
          new ObjectMetaBuilder()
              .withName("gitops")
              .withLabels(labels.isEmpty() ? null : labels)
              .withAnnotations(annotations.isEmpty() ? null : annotations)
              .build());
    }
    return objects;
  }

  @Test
  void aGitOpsReapplyOwnsExactlyItsMetadataOnEveryKind() throws Exception {
    controller("c1");
    for (HasMetadata o :
        gitOpsObjects(Map.of("team", "a", "tier", "gold"), Map.of("owner", "ops@example.com"))) {
      client.resource(o).fieldManager("gitops").serverSideApply();
    }
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () -> {
              for (String kind : KINDS.keySet()) {
                var now = client.resources(KINDS.get(kind)).withName("gitops").get();
                assertThat(
                        ready((RegistryStatus) now.getStatus(), now.getMetadata().getGeneration()))
                    .as(kind)
                    .isTrue();
              }
            });
    // The controller's writes own what it wrote (status; its finalizer), never the user's metadata.
    for (String kind : KINDS.keySet()) {
      var fields =
          client
              .resources(KINDS.get(kind))
              .withName("gitops")
              .get()
              .getMetadata()
              .getManagedFields();
      assertThat(fields)
          .as(kind)
          .anySatisfy(f -> assertThat(f.getSubresource()).isEqualTo("status"));
      for (var f : fields) {
        String owned = Serialization.asJson(f.getFieldsV1());
        if ("status".equals(f.getSubresource())) {
          assertThat(owned)
              .as(kind + ": the status write of " + f.getManager())
              .doesNotContain("f:metadata");
        } else if (!"gitops".equals(f.getManager())) {
          assertThat(owned)
              .as(kind + ": " + f.getManager())
              .doesNotContain("f:labels")
              .doesNotContain("f:annotations")
              .doesNotContain("f:spec");
        }
      }
    }

    // Git changes one label, drops another and the annotation: the apply needs no force, and the
    // objects then carry exactly what Git says.
    for (HasMetadata o : gitOpsObjects(Map.of("team", "b"), Map.of())) {
      client.resource(o).fieldManager("gitops").serverSideApply();
    }
    for (String kind : KINDS.keySet()) {
      var now = client.resources(KINDS.get(kind)).withName("gitops").get();
      assertThat(now.getMetadata().getLabels()).as(kind).isEqualTo(Map.of("team", "b"));
      assertThat(now.getMetadata().getAnnotations()).as(kind).isNullOrEmpty();
    }
  }

  @Test
  void aChildQuotaGuaranteedMoreThanItsParentIsNotReadyUntilTheParentGuaranteesEnough()
      throws Exception {
    controller("c1");
    Quota child = quota("eng-frontend", "eng/frontend", 500);
    // Applied before its parent: Mesos refuses it (a role without quota guarantees nothing), and so
    // is it kept out of the registry.
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () -> assertThat(reason("eng-frontend")).isEqualTo("ExceedsParentGuarantees"));
    assertThat(readyCondition(client.resource(child).get().getStatus()).getMessage())
        .startsWith(
            "spec.guarantees: role eng/frontend would be guaranteed more than its parent role eng guarantees "
                + "(nothing: it has no quota)");
    assertThat(registry().getQuotasList())
        .extracting(q -> q.getRole())
        .doesNotContain("eng/frontend");

    // The parent appears, guaranteeing too little: the child hears of it and says so.
    Quota parent = quota("eng", "eng", 40);
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () ->
                assertThat(readyCondition(client.resource(child).get().getStatus()).getMessage())
                    .contains("guarantees (cpus 40): cpus 500 > 40"));
    assertThat(ready(client.resource(parent).get().getStatus(), 1)).isTrue();

    // The parent grows: the child is reconciled again (no timer: an event of its parent) and fits.
    client
        .resources(Quota.class)
        .withName("eng")
        .edit(
            q -> {
              q.getSpec().getGuarantees().put("cpus", 600.0);
              return q;
            });
    await().atMost(PATIENCE).until(() -> ready(client.resource(child).get().getStatus(), 1));
    assertThat(registry().getQuotasList())
        .extracting(q -> q.getRole())
        .contains("eng", "eng/frontend");

    // The parent may not shrink below its child: that update is refused, the registry keeps 600.
    client
        .resources(Quota.class)
        .withName("eng")
        .edit(
            q -> {
              q.getSpec().getGuarantees().put("cpus", 100.0);
              return q;
            });
    await()
        .atMost(PATIENCE)
        .untilAsserted(() -> assertThat(reason("eng")).isEqualTo("BelowChildrenGuarantees"));
    assertThat(registry().getQuotasList())
        .filteredOn(q -> q.getRole().equals("eng"))
        .singleElement()
        .satisfies(q -> assertThat(q.getGuaranteesMap()).containsEntry("cpus", 600.0));

    // Nor may it go while its child is guaranteed something: its deletion waits, saying why ...
    client.resource(parent).delete();
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () ->
                assertThat(
                        readyCondition(
                                client.resources(Quota.class).withName("eng").get().getStatus())
                            .getMessage())
                    .startsWith(
                        "role eng cannot lose its quota while its child roles (eng/frontend) are guaranteed something"));
    assertThat(
            client
                .resources(Quota.class)
                .withName("eng")
                .get()
                .getMetadata()
                .getDeletionTimestamp())
        .isNotNull();
    assertThat(registry().getQuotasList())
        .extracting(q -> q.getRole())
        .contains("eng", "eng/frontend");
    // ... and goes, from the registry too, once the child has gone.
    client.resource(child).delete();
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                client.resources(Quota.class).withName("eng").get() == null
                    && client.resources(Quota.class).withName("eng-frontend").get() == null);
    assertThat(registry().getQuotasList())
        .extracting(q -> q.getRole())
        .doesNotContain("eng", "eng/frontend");
  }

  @Test
  void aRefusalTheRegistryStillMakesNamesTheResourcesOwnField() throws Exception {
    controller("c1");
    MaintenanceSchedule first = schedule("first", List.of(List.of("shared-1")));
    await().atMost(PATIENCE).until(() -> ready(client.resource(first).get().getStatus(), 1));
    // A machine belongs to one schedule: only the registry knows the others, so it refuses, and the
    // condition names the field as written.
    MaintenanceSchedule second =
        schedule("second", List.of(List.of("other-1"), List.of("other-2", "shared-1")));
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () -> assertThat(reason("second", MaintenanceSchedule.class)).isEqualTo("Refused"));
    assertThat(readyCondition(client.resource(second).get().getStatus()).getMessage())
        .isEqualTo("spec.windows[1].machines[1]: machine shared-1 is already in schedule 'first'");
  }

  String reason(String quota) {
    return reason(quota, Quota.class);
  }

  String reason(String name, Class<? extends CustomResource<?, ? extends RegistryStatus>> kind) {
    RegistryStatus status = client.resources(kind).withName(name).get().getStatus();
    return status == null || status.getConditions().isEmpty()
        ? null
        : readyCondition(status).getReason();
  }

  Quota quota(String name, String role, double cpus) {
    Quota q = new Quota();
    q.getMetadata().setName(name);
    q.setSpec(new QuotaSpec());
    q.getSpec().setRole(role);
    q.getSpec().getGuarantees().put("cpus", cpus);
    return client.resource(q).create();
  }

  MaintenanceSchedule schedule(String name, List<List<String>> windows) {
    MaintenanceSchedule ms = new MaintenanceSchedule();
    ms.getMetadata().setName(name);
    ms.setSpec(new MaintenanceScheduleSpec());
    for (List<String> hosts : windows) {
      MaintenanceWindow w = new MaintenanceWindow();
      w.setStart("2026-12-05T02:00:00Z");
      w.setDurationSeconds(3600L);
      hosts.forEach(h -> w.getMachines().add(new MachineId(h, null)));
      ms.getSpec().getWindows().add(w);
    }
    return client.resource(ms).create();
  }

  @Test
  void aPausedLeaderThatLostItsLeaseNeverWritesAgainAndExits() throws Exception {
    Process first = controller("first");
    await().atMost(PATIENCE).until(() -> "first".equals(leader()));
    controller("second");
    Weight w = weight("before", "team-a", 2);
    await().atMost(PATIENCE).until(() -> ready(client.resource(w).get().getStatus(), 1));
    String firstId = registry().getMaster().getId();

    new ProcessBuilder("kill", "-STOP", Long.toString(first.pid())).start().waitFor();
    try {
      await().atMost(PATIENCE).until(() -> "second".equals(leader()));
      await().atMost(PATIENCE).until(() -> registry().getMaster().getHostname().equals("second"));
      // Work the paused one will see when it wakes, and the new master does now.
      Weight during = weight("during", "team-b", 3);
      await().atMost(PATIENCE).until(() -> ready(client.resource(during).get().getStatus(), 1));
    } finally {
      new ProcessBuilder("kill", "-CONT", Long.toString(first.pid())).start().waitFor();
    }
    assertThat(first.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS))
        .as("the old leader notices and exits")
        .isTrue();
    assertThat(first.exitValue()).isNotZero();

    Weight after = weight("after", "team-c", 4);
    await().atMost(PATIENCE).until(() -> ready(client.resource(after).get().getStatus(), 1));

    // The log's history: once the second master recorded itself, nothing more from the first.
    Log reader = log;
    boolean secondStarted = false;
    for (LogEntry e : reader.reader().read(reader.reader().beginning(), reader.reader().ending())) {
      Entry entry = State.decode(e.payload());
      if (entry == null || !entry.hasChange()) {
        continue;
      }
      String writer = entry.getChange().getWriter();
      if (!writer.equals(firstId)) {
        secondStarted = true;
      } else {
        assertThat(secondStarted)
            .as("a change at position %d by the deposed master", e.position())
            .isFalse();
      }
    }
    assertThat(secondStarted).isTrue();
    assertThat(registry().getWeightsList())
        .extracting(x -> x.getRole())
        .containsExactlyInAnyOrder("team-a", "team-b", "team-c");
  }

  @Test
  void aCleanStopIsNoFailureAndHandsTheLeaseOver() throws Exception {
    Process first = controller("first");
    await().atMost(PATIENCE).until(() -> "first".equals(leader()));
    Process second = controller("second");
    Weight w = weight("before", "team-a", 2);
    await().atMost(PATIENCE).until(() -> ready(client.resource(w).get().getStatus(), 1));
    // The standby got ready to take over: the master's start ran once on what the registry held.
    await()
        .atMost(PATIENCE)
        .until(
            () -> Files.readString(dir.resolve("second.log")).contains("warmed up for a takeover"));

    // One change acknowledged just before the signal (its status says it is in the registry), and
    // one still on its way when the signal comes: the Lease is released before the old master's
    // registrar closes, so the second may be refused by the stopping master, fenced on the log, or
    // committed; either way the new master ends up holding both, and says so in their status.
    Weight acknowledged = weight("acknowledged", "team-d", 4);
    await().atMost(PATIENCE).until(() -> ready(client.resource(acknowledged).get().getStatus(), 1));
    Weight racing = weight("racing", "team-e", 5);
    first.destroy(); // SIGTERM, as Kubernetes stops a pod
    assertThat(first.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS)).isTrue();
    // Released, not left to expire: right away nobody holds it, or the standby already took it.
    assertThat(leader()).as("the Lease's holder once the master stopped").isIn(null, "second");
    String out = Files.readString(dir.resolve("first.log"));
    assertThat(out)
        .as("the stopped master's output")
        .contains("controller first: stopping (signal)")
        .contains("gave up mastership")
        .contains("released the Lease " + NS + "/kmesos-master")
        .contains("controller first: stopped")
        .doesNotContain("ERROR")
        .doesNotContain("giving up mastership");
    await().atMost(PATIENCE).until(() -> "second".equals(leader()));
    weight("after", "team-b", 3);
    await()
        .atMost(PATIENCE)
        .until(
            () -> registry().getWeightsList().stream().anyMatch(x -> x.getRole().equals("team-b")));
    assertThat(registry().getMaster().getHostname()).isEqualTo("second");
    assertThat(registry().getWeightsList())
        .as("every acknowledged change outlives the handover")
        .extracting(x -> x.getRole())
        .contains("team-a", "team-d");
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                registry().getWeightsList().stream().anyMatch(x -> x.getRole().equals("team-e"))
                    && ready(client.resource(racing).get().getStatus(), 1));
    assertThat(out)
        .as("the stopping master handed the Lease over before its reconcilers stopped")
        .containsPattern("stopped \\(ms after the signal: port closed \\d+, Lease released \\d+");

    // A standby's clean stop is quiet too, and leaves the Lease alone.
    Process third = controller("third");
    await()
        .atMost(PATIENCE)
        .until(() -> Files.readString(dir.resolve("third.log")).contains("standing for"));
    third.destroy();
    assertThat(third.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS)).isTrue();
    assertThat(Files.readString(dir.resolve("third.log")))
        .contains("controller third: stopped")
        .doesNotContain("ERROR")
        .doesNotContain("released the Lease");
    assertThat(leader()).isEqualTo("second");
    assertThat(second.isAlive()).isTrue();
  }

  @Test
  void afterKill9TheOtherControllerTakesOverAndGoesOn() throws Exception {
    Process first = controller("first");
    await().atMost(PATIENCE).until(() -> "first".equals(leader()));
    controller("second");
    Weight w = weight("before", "team-a", 2);
    await().atMost(PATIENCE).until(() -> ready(client.resource(w).get().getStatus(), 1));

    List<Optional<String>> seen = Collections.synchronizedList(new ArrayList<>());
    MasterDetector detector = new MasterDetector(client, NS, "kmesos-master");
    detector.watch(seen::add);
    assertThat(detector.current()).contains("first");
    first.destroyForcibly(); // kill -9
    long killed = System.nanoTime();
    weight("after", "team-b", 3);
    await()
        .atMost(PATIENCE)
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> registry().getWeightsList().stream().anyMatch(x -> x.getRole().equals("team-b")));
    long millis = (System.nanoTime() - killed) / 1_000_000;
    System.out.printf(
        "failover: kill -9 of the leader to the first change reconciled by the new one: %d ms "
            + "(lease 4s, renew deadline 3s, retry 500ms)%n",
        millis);
    assertThat(registry().getMaster().getHostname()).isEqualTo("second");
    await().atMost(PATIENCE).untilAsserted(() -> assertThat(detector.current()).contains("second"));
    assertThat(seen)
        .as("the detector saw the master change hands")
        .startsWith(Optional.of("first"))
        .endsWith(Optional.of("second"));
    detector.close();
  }

  @Test
  void theDetectorSeesALeaseExpireThoughNobodyWritesIt() throws Exception {
    // A holder that died with no one to take over: the Lease just stops being renewed.
    client
        .leases()
        .inNamespace(NS)
        .resource(
            new LeaseBuilder()
                .withNewMetadata()
                .withName("kmesos-detector-test")
                .endMetadata()
                .withNewSpec()
                .withHolderIdentity("ghost")
                .withLeaseDurationSeconds(5)
                .withRenewTime(ZonedDateTime.now())
                .endSpec()
                .build())
        .create();
    List<Optional<String>> seen = Collections.synchronizedList(new ArrayList<>());
    try (MasterDetector detector = new MasterDetector(client, NS, "kmesos-detector-test")) {
      detector.watch(seen::add);
      await()
          .atMost(PATIENCE)
          .untilAsserted(
              () -> assertThat(seen).containsExactly(Optional.of("ghost"), Optional.empty()));
      assertThat(detector.current()).isEmpty();
    } finally {
      client.leases().inNamespace(NS).withName("kmesos-detector-test").delete();
    }
  }

  Weight weight(String name, String role, double value) {
    Weight w = new Weight();
    w.getMetadata().setName(name);
    w.setSpec(new WeightSpec());
    w.getSpec().setRole(role);
    w.getSpec().setWeight(value);
    return client.resource(w).create();
  }

  /**
   * The events.k8s.io Events about {@code regarding} (by UID: objects of earlier tests had the same
   * names).
   */
  static List<Event> eventsOf(HasMetadata regarding) {
    return client.events().v1().events().inNamespace("default").list().getItems().stream()
        .filter(
            e ->
                e.getRegarding() != null
                    && regarding.getMetadata().getUid().equals(e.getRegarding().getUid()))
        .toList();
  }

  static List<String> reasons(HasMetadata regarding) {
    return eventsOf(regarding).stream().map(e -> e.getReason()).toList();
  }

  @Test
  void notableTransitionsAreKubernetesEvents() throws Exception {
    controller("c1");
    applyExamples();
    var nodeA = client.resources(Agent.class).withName("node-a").get();
    await().atMost(Duration.ofSeconds(90)).until(() -> reasons(nodeA).contains("Admitted"));
    var admitted =
        eventsOf(nodeA).stream()
            .filter(e -> e.getReason().equals("Admitted"))
            .findFirst()
            .orElseThrow();
    assertThat(admitted.getType()).isEqualTo("Normal");
    assertThat(admitted.getReportingController()).isEqualTo("kmesos.io/controller");
    assertThat(admitted.getRegarding().getKind()).isEqualTo("Agent");
    assertThat(admitted.getNote())
        .isEqualTo(
            "agent "
                + nodeA.getMetadata().getUid()
                + " (node-a.cluster.local) is admitted into the registry");

    // A machine taken DOWN.
    MaintenanceSchedule schedule =
        client.resources(MaintenanceSchedule.class).withName("december-kernel-upgrade").get();
    await()
        .atMost(Duration.ofSeconds(90))
        .until(
            () ->
                ready(
                    client.resource(schedule).get().getStatus(),
                    schedule.getMetadata().getGeneration()));
    client
        .resources(MaintenanceSchedule.class)
        .withName("december-kernel-upgrade")
        .edit(
            ms -> {
              ms.getSpec().getDown().add(new MachineId("node-a.cluster.local", null));
              return ms;
            });
    await().atMost(Duration.ofSeconds(60)).until(() -> reasons(schedule).contains("MachinesDown"));
    assertThat(eventsOf(schedule))
        .filteredOn(e -> e.getReason().equals("MachinesDown"))
        .singleElement()
        .satisfies(
            e -> assertThat(e.getNote()).isEqualTo("machines taken DOWN: node-a.cluster.local"));

    // Two agents deleted at once: one removal is held back by the rate limit (1 per 3 s), then both
    // go.
    var nodeB = client.resources(Agent.class).withName("node-b").get();
    var gpu = client.resources(Agent.class).withName("node-gpu-1").get();
    await()
        .atMost(Duration.ofSeconds(90))
        .until(() -> reasons(nodeB).contains("Admitted") && reasons(gpu).contains("Admitted"));
    client.resource(nodeB).delete();
    client.resource(gpu).delete();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> reasons(nodeB).contains("Removed") && reasons(gpu).contains("Removed"));
    assertThat(List.of(reasons(nodeB), reasons(gpu)))
        .as("one removal waited for the rate limit")
        .anySatisfy(r -> assertThat(r).contains("RemovalRateLimited"));
  }

  @Test
  void aReconcileThatFailsSaysSyncedFalseWithWhyUntilItSucceeds() throws Exception {
    // No quorum of the log: the master cannot become its writer, so no reconcile can reach the
    // registry.
    replicas.kill(1);
    replicas.kill(2);
    controller("c1", 0, "--log-election-deadline", "15m", "--registry-wait", "10s");
    Quota quota = new Quota();
    quota.getMetadata().setName("waits-for-the-log");
    quota.setSpec(new QuotaSpec());
    quota.getSpec().setRole("waiting");
    quota.getSpec().getLimits().put("cpus", 2.0);
    Quota created = client.resource(quota).create();

    await()
        .atMost(Duration.ofSeconds(240))
        .until(() -> synced(created) != null && synced(created).getStatus().equals("False"));
    Condition synced = synced(created);
    assertThat(synced.getReason()).isEqualTo("ReconcileFailed");
    assertThat(synced.getMessage())
        .isEqualTo(
            "reconcile failed: the master has not recovered the registry within 10 s: "
                + "it is still becoming the log's writer (is a quorum of the log's replicas up?)");
    assertThat(client.resource(created).get().getStatus().getConditions())
        .extracting(Condition::getType)
        .doesNotContain("Ready");
    assertThat(eventsOf(created))
        .filteredOn(e -> e.getReason().equals("ReconcileFailed"))
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.getType()).isEqualTo("Warning");
              assertThat(e.getNote()).isEqualTo(synced.getMessage());
            });

    // The log is back: the retried reconcile reaches the registry, and Synced says so.
    replicas.start(1);
    replicas.start(2);
    await()
        .atMost(Duration.ofSeconds(240))
        .until(
            () ->
                ready(
                    client.resource(created).get().getStatus(),
                    created.getMetadata().getGeneration()));
    assertThat(synced(created).getStatus()).isEqualTo("True");
    assertThat(registry().getQuotasList()).extracting(q -> q.getRole()).contains("waiting");
  }

  static Condition synced(HasMetadata resource) {
    RegistryStatus status =
        (RegistryStatus) ((CustomResource<?, ?>) client.resource(resource).get()).getStatus();
    return status == null
        ? null
        : status.getConditions().stream()
            .filter(c -> c.getType().equals("Synced"))
            .findFirst()
            .orElse(null);
  }
}
