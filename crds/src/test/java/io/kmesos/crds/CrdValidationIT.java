package io.kmesos.crds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
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
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The generated CRDs, installed in a real kube-apiserver, accept good objects and name the field of
 * bad ones.
 */
@WithKubeApiServer
class CrdValidationIT {
  private final KubernetesClient client;

  CrdValidationIT(KubernetesClient client) {
    this.client = client;
  }

  @BeforeAll
  static void installCrds(KubernetesClient client) {
    assertThat(KmesosCrds.install(client, Duration.ofMinutes(2))).hasSize(4);
  }

  @Test
  void everyKindIsServedAndListedUnderTheKmesosCategory() {
    var resources = client.getApiResources("kmesos.io/v1alpha1").getResources();
    assertThat(resources)
        .extracting(r -> r.getName())
        .contains("agents", "quotas", "weights", "maintenanceschedules");
    assertThat(resources)
        .filteredOn(r -> !r.getName().contains("/"))
        .allSatisfy(r -> assertThat(r.getCategories()).contains("kmesos"))
        .allSatisfy(r -> assertThat(r.getNamespaced()).isFalse());
  }

  @Test
  void weightOfZeroIsRejectedNamingTheField() {
    assertThatThrownBy(() -> client.resource(weight("zero", "analytics", 0.0)).create())
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).isEqualTo(422);
              assertThat(e.getMessage())
                  .contains("spec.weight")
                  .contains("should be greater than 0");
            });
    assertThat(client.resources(Weight.class).withName("zero").get()).isNull();
  }

  @Test
  void badRoleNameIsRejectedNamingTheField() {
    assertThatThrownBy(() -> client.resource(weight("dots", "../etc", 1.0)).create())
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).isEqualTo(422);
              assertThat(e.getMessage()).contains("spec.role");
            });
  }

  @Test
  void quotaGuaranteeAboveLimitIsRejectedByTheCelRule() {
    Quota quota = new Quota();
    quota.setMetadata(new ObjectMetaBuilder().withName("too-much").build());
    QuotaSpec spec = new QuotaSpec();
    spec.setRole("analytics");
    spec.setGuarantees(Map.of("cpus", 8.0));
    spec.setLimits(Map.of("cpus", 4.0));
    quota.setSpec(spec);
    assertThatThrownBy(() -> client.resource(quota).create())
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).isEqualTo(422);
              assertThat(e.getMessage())
                  .contains("spec.guarantees")
                  .contains("must not exceed spec.limits");
            });

    spec.setGuarantees(Map.of("cpus", 2.0));
    assertThat(client.resource(quota).create().getSpec().getGuarantees())
        .containsEntry("cpus", 2.0);
  }

  @Test
  void maintenanceWindowNeedsAMachineAndAPositiveDuration() {
    MaintenanceWindow window = new MaintenanceWindow();
    window.setStart("2026-12-01T02:00:00Z");
    window.setDurationSeconds(0L);
    MaintenanceScheduleSpec spec = new MaintenanceScheduleSpec();
    spec.setWindows(List.of(window));
    MaintenanceSchedule schedule = new MaintenanceSchedule();
    schedule.setMetadata(new ObjectMetaBuilder().withName("december").build());
    schedule.setSpec(spec);

    assertThatThrownBy(() -> client.resource(schedule).create())
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e ->
                assertThat(e.getMessage())
                    .contains("spec.windows[0].machines")
                    .contains("spec.windows[0].durationSeconds"));

    window.setMachines(List.of(new MachineId("node-1", null)));
    window.setDurationSeconds(3600L);
    assertThat(client.resource(schedule).create().getSpec().getWindows()).hasSize(1);
  }

  @Test
  void negativeQuantitiesAreRejectedNamingTheResource() {
    Quota quota = quota("negative", "analytics", Map.of(), Map.of("cpus", -1.0));
    assertRejected(quota, "spec.limits.cpus", "should be greater than or equal to 0");

    Agent agent = agent("negative-node", "negative-node.cluster.local");
    agent.getSpec().setResources(Map.of("mem", -512.0));
    assertRejected(agent, "spec.resources.mem", "should be greater than or equal to 0");
  }

  @Test
  void anAgentDeclaredGoneCannotBeSetBack() {
    Agent agent = agent("decommissioned", "decommissioned.cluster.local");
    client.resource(agent).create();
    // Unset, then false, then true: each allowed.
    client
        .resources(Agent.class)
        .withName("decommissioned")
        .edit(
            a -> {
              a.getSpec().setGone(false);
              return a;
            });
    client
        .resources(Agent.class)
        .withName("decommissioned")
        .edit(
            a -> {
              a.getSpec().setGone(true);
              return a;
            });
    for (Boolean back : Arrays.asList(false, null)) {
      assertThatThrownBy(
              () ->
                  client
                      .resources(Agent.class)
                      .withName("decommissioned")
                      .edit(
                          a -> {
                            a.getSpec().setGone(back);
                            return a;
                          }))
          .as("gone: %s", back)
          .isInstanceOfSatisfying(
              KubernetesClientException.class,
              e ->
                  assertThat(e.getMessage())
                      .contains("spec.gone")
                      .contains("spec.gone cannot be set back to false (or removed) once true"));
    }
    assertThat(client.resources(Agent.class).withName("decommissioned").get().getSpec().gone())
        .isTrue();
  }

  @Test
  void aRoleCannotBeChangedOnceSet() {
    client.resource(weight("fixed", "analytics", 2.0)).create();
    assertThatThrownBy(
            () ->
                client
                    .resources(Weight.class)
                    .withName("fixed")
                    .edit(
                        w -> {
                          w.getSpec().setRole("batch");
                          return w;
                        }))
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e ->
                assertThat(e.getMessage())
                    .contains("spec.role")
                    .contains("spec.role cannot be changed"));
    assertThat(client.resources(Weight.class).withName("fixed").get().getSpec().getRole())
        .isEqualTo("analytics");
  }

  @Test
  void aMaintenanceWindowStartMustBeATime() {
    MaintenanceWindow window = new MaintenanceWindow();
    window.setStart("next tuesday");
    window.setDurationSeconds(3600L);
    window.setMachines(List.of(new MachineId("node-1", null)));
    MaintenanceScheduleSpec spec = new MaintenanceScheduleSpec();
    spec.setWindows(List.of(window));
    MaintenanceSchedule schedule = new MaintenanceSchedule();
    schedule.setMetadata(new ObjectMetaBuilder().withName("whenever").build());
    schedule.setSpec(spec);
    assertThatThrownBy(() -> client.resource(schedule).create())
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> assertThat(e.getMessage()).contains("spec.windows[0].start"));
  }

  @Test
  void anInvalidStartNamesTheFieldAndTheFormat() {
    MaintenanceSchedule schedule =
        schedule("bad-time", window("2027-13-45T99:99:99Z", machine("node-1", null)));
    assertRejected(schedule, "spec.windows[0].start", "date-time");
    assertThatThrownBy(() -> client.resource(schedule).create())
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("type conversion error"));
  }

  @Test
  void aMachineTwiceInOneWindowIsRejected() {
    assertRejected(
        schedule(
            "twice",
            window(
                "2026-12-01T02:00:00Z",
                machine("node-1", null),
                machine("node-2", null),
                machine("node-1", null))),
        "spec.windows[0].machines",
        "a machine may appear only once in a window");
  }

  @Test
  void aMachineInTwoWindowsOfOneScheduleIsRejected() {
    // Overlapping windows (the same start) and far apart ones alike: the registry keeps one entry
    // per machine.
    assertRejected(
        schedule(
            "overlap",
            window("2026-12-01T02:00:00Z", machine("node-1", "10.0.0.1")),
            window("2026-12-01T03:00:00Z", machine("node-2", null), machine("node-1", "10.0.0.1"))),
        "spec.windows",
        "a machine may be in only one window of a schedule");
    // Hostname and IP together identify a machine: another IP is another machine.
    assertThat(
            client
                .resource(
                    schedule(
                        "apart",
                        window("2026-12-01T02:00:00Z", machine("node-1", "10.0.0.1")),
                        window("2027-01-01T02:00:00Z", machine("node-1", "10.0.0.2"))))
                .create())
        .isNotNull();
  }

  @Test
  void machinesNeedAValidIpAndALowercaseHostname() {
    assertRejected(
        schedule("bad-ip", window("2026-12-01T02:00:00Z", machine(null, "10.0.0.300"))),
        "spec.windows[0].machines[0].ip",
        "ip must be an IPv4 or IPv6 address");
    assertRejected(
        schedule("long-ip", window("2026-12-01T02:00:00Z", machine(null, "2001:DB8::7"))),
        "spec.windows[0].machines[0].ip",
        "canonical form");
    assertRejected(
        schedule("upper", window("2026-12-01T02:00:00Z", machine("Node-1", null))),
        "spec.windows[0].machines[0].hostname",
        "should match");
    assertRejected(
        schedule("empty", window("2026-12-01T02:00:00Z", machine("", null))),
        "spec.windows[0].machines[0].hostname");
    assertThat(
            client
                .resource(
                    schedule(
                        "good-ips",
                        window(
                            "2026-12-01T02:00:00Z",
                            machine(null, "10.0.0.7"),
                            machine("node-1", "2001:db8::7"))))
                .create())
        .isNotNull();
  }

  @Test
  void downMustNameAScheduledMachineOnce() {
    MaintenanceSchedule stranger =
        schedule("stranger", window("2026-12-01T02:00:00Z", machine("node-1", null)));
    stranger.getSpec().setDown(List.of(machine("node-9", null)));
    assertRejected(
        stranger, "spec.down", "every machine in spec.down must be in one of spec.windows");

    MaintenanceSchedule twice =
        schedule("down-twice", window("2026-12-01T02:00:00Z", machine("node-1", null)));
    twice.getSpec().setDown(List.of(machine("node-1", null), machine("node-1", null)));
    assertRejected(twice, "spec.down", "a machine may appear only once in spec.down");
  }

  @Test
  void emptyOrOddResourceAndAttributeNamesAreRejected() {
    Agent agent = agent("no-name", "no-name.cluster.local");
    agent.getSpec().setResources(Map.of("", 1.0));
    assertRejected(agent, "spec.resources", "resource names are 1 to 63 characters");
    Agent spaced = agent("spaced", "spaced.cluster.local");
    spaced.getSpec().setAttributes(Map.of(" rack", "r1"));
    assertRejected(spaced, "spec.attributes", "attribute names are 1 to 63 characters");
    assertRejected(
        quota("no-name", "analytics", Map.of("", 1.0), Map.of()),
        "spec.guarantees",
        "resource names are 1 to 63 characters");
    assertRejected(
        quota("no-name-limit", "analytics", Map.of(), Map.of("cpus ", 1.0)),
        "spec.limits",
        "resource names are 1 to 63 characters");
  }

  @Test
  void everyStringAndListIsBounded() {
    assertRejected(weight("long-role", "r".repeat(20_000), 1.0), "spec.role", "Too long", "255");
    Agent huge = agent("huge", "huge.cluster.local");
    huge.getSpec().setAttributes(Map.of("rack", "x".repeat(900 * 1024)));
    assertRejected(huge, "spec.attributes.rack", "Too long", "256");
    Agent many = agent("many", "many.cluster.local");
    Map<String, String> attributes = new HashMap<>();
    for (int i = 0; i < 65; i++) {
      attributes.put("a" + i, "v");
    }
    many.getSpec().setAttributes(attributes);
    assertRejected(many, "spec.attributes", "Too many", "64");
    Map<String, Double> resources = new HashMap<>();
    for (int i = 0; i < 33; i++) {
      resources.put("r" + i, 1.0);
    }
    assertRejected(
        quota("many", "analytics", resources, Map.of()), "spec.guarantees", "Too many", "32");
    assertRejected(
        agent(
            "long-host",
            "a".repeat(63) + "." + "b".repeat(63) + "." + "c".repeat(63) + "." + "d".repeat(63)),
        "spec.hostname",
        "Too long",
        "253");

    MaintenanceWindow[] windows = new MaintenanceWindow[11];
    for (int w = 0; w < windows.length; w++) {
      windows[w] = window("2026-12-01T02:00:00Z", machine("node-" + w, null));
    }
    assertRejected(schedule("many-windows", windows), "spec.windows", "Too many", "10");
    MachineId[] machines = new MachineId[26];
    for (int m = 0; m < machines.length; m++) {
      machines[m] = machine("node-" + m, null);
    }
    assertRejected(
        schedule("many-machines", window("2026-12-01T02:00:00Z", machines)),
        "spec.windows[0].machines",
        "Too many",
        "25");
    MaintenanceSchedule forever =
        schedule("forever", window("2026-12-01T02:00:00Z", machine("node-1", null)));
    forever.getSpec().getWindows().get(0).setDurationSeconds(400L * 365 * 24 * 3600);
    assertRejected(forever, "spec.windows[0].durationSeconds", "should be less than or equal to");
  }

  @Test
  void theLargestScheduleTheBoundsAllowIsAccepted() {
    // The uniqueness rules compare every machine with every other: at the bounds, with realistic
    // hostnames and IPs, they must stay within the API server's CEL cost budget.
    MaintenanceWindow[] windows = new MaintenanceWindow[MaintenanceScheduleSpec.MAX_WINDOWS];
    List<MachineId> down = new ArrayList<>();
    for (int w = 0; w < windows.length; w++) {
      MachineId[] machines = new MachineId[MaintenanceWindow.MAX_MACHINES];
      for (int m = 0; m < machines.length; m++) {
        machines[m] =
            machine(
                "node-" + w + "-" + m + ".rack-" + w + ".zone-a.example-cluster.internal",
                "10.0." + w + "." + m);
        down.add(machine(machines[m].getHostname(), machines[m].getIp()));
      }
      windows[w] = window("2026-12-0" + (w % 9 + 1) + "T02:00:00Z", machines);
    }
    MaintenanceSchedule big = schedule("biggest", windows);
    big.getSpec().setDown(down);
    assertThat(client.resource(big).create().getSpec().getDown()).hasSize(250);
  }

  @Test
  void conditionsAreValidatedAsMetav1Conditions() {
    Weight w = client.resource(weight("conditioned", "conditioned", 1.0)).create();
    w.setStatus(new RegistryStatus());
    w.getStatus()
        .setConditions(
            List.of(
                new ConditionBuilder()
                    .withType("Ready")
                    .withStatus("Maybe")
                    .withReason("InRegistry")
                    .withMessage("m")
                    .withLastTransitionTime("yesterday")
                    .build()));
    assertThatThrownBy(() -> client.resource(w).updateStatus())
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e ->
                assertThat(e.getMessage())
                    .contains("status.conditions[0].status")
                    .contains("Unsupported value: \"Maybe\"")
                    .contains("status.conditions[0].lastTransitionTime")
                    .contains("date-time"));
  }

  @Test
  void kubectlExplainsEveryKindAndFieldAndGetShowsTheirAge(
      LocalKubeApiServer server, @TempDir Path dir) throws Exception {
    Path kubeconfig = server.writeKubeConfig(dir.resolve("kubeconfig"));
    for (String field :
        List.of(
            "agents",
            "agents.spec",
            "agents.status",
            "agents.spec.attributes",
            "quotas",
            "quotas.spec.guarantees",
            "quotas.status.conditions.reason",
            "weights.spec.weight",
            "maintenanceschedules.spec.windows.machines.ip",
            "maintenanceschedules.status.machines.mode")) {
      String explained = kubectl(kubeconfig, "explain", field);
      assertThat(explained).as(field).contains("DESCRIPTION:").doesNotContain("<empty>");
    }
    // Every field of every kind has a description (kubectl explain --recursive lists them, not
    // their text).
    for (var crd : KmesosCrds.load()) {
      assertDescribed(
          crd.getSpec().getNames().getKind(),
          crd.getSpec().getVersions().get(0).getSchema().getOpenAPIV3Schema());
    }
    client.resource(weight("aged", "aged", 1.0)).create();
    assertThat(kubectl(kubeconfig, "get", "weights").lines().findFirst().orElse(""))
        .contains("AGE");
    for (String kind : List.of("agents", "quotas", "weights", "maintenanceschedules")) {
      assertThat(
              client
                  .apiextensions()
                  .v1()
                  .customResourceDefinitions()
                  .withName(kind + ".kmesos.io")
                  .get()
                  .getSpec()
                  .getVersions()
                  .get(0)
                  .getAdditionalPrinterColumns())
          .as(kind)
          .anySatisfy(
              c ->
                  assertThat(c.getName() + " " + c.getType() + " " + c.getJsonPath())
                      .isEqualTo("Age date .metadata.creationTimestamp"));
    }
  }

  private static void assertDescribed(String path, JSONSchemaProps s) {
    assertThat(s.getDescription()).as(path).isNotBlank();
    if (s.getProperties() != null) {
      s.getProperties().forEach((name, p) -> assertDescribed(path + "." + name, p));
    }
    if (s.getItems() != null
        && s.getItems().getSchema() != null
        && s.getItems().getSchema().getProperties() != null) {
      s.getItems()
          .getSchema()
          .getProperties()
          .forEach((name, p) -> assertDescribed(path + "[]." + name, p));
    }
  }

  private static String kubectl(Path kubeconfig, String... args) throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                LocalKubeApiServer.binaryDirectory().resolve("kubectl").toString(),
                "--kubeconfig",
                kubeconfig.toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(String.join(" ", args) + ": " + out).isZero();
    return out;
  }

  /**
   * The API server refuses {@code resource} (422) with a message that contains each of {@code
   * expected}.
   */
  private void assertRejected(HasMetadata resource, String... expected) {
    assertThatThrownBy(() -> client.resource(resource).create())
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).as(e.getMessage()).isEqualTo(422);
              assertThat(e.getMessage()).contains(expected);
            });
    assertThat(client.resource(resource).get()).isNull();
  }

  private static MachineId machine(String hostname, String ip) {
    return new MachineId(hostname, ip);
  }

  private static MaintenanceWindow window(String start, MachineId... machines) {
    MaintenanceWindow window = new MaintenanceWindow();
    window.setStart(start);
    window.setDurationSeconds(3600L);
    window.setMachines(new ArrayList<>(List.of(machines)));
    return window;
  }

  private static MaintenanceSchedule schedule(String name, MaintenanceWindow... windows) {
    MaintenanceScheduleSpec spec = new MaintenanceScheduleSpec();
    spec.setWindows(new ArrayList<>(List.of(windows)));
    MaintenanceSchedule schedule = new MaintenanceSchedule();
    schedule.setMetadata(new ObjectMetaBuilder().withName(name).build());
    schedule.setSpec(spec);
    return schedule;
  }

  private static Agent agent(String name, String hostname) {
    Agent agent = new Agent();
    agent.setMetadata(new ObjectMetaBuilder().withName(name).build());
    AgentSpec spec = new AgentSpec();
    spec.setHostname(hostname);
    agent.setSpec(spec);
    return agent;
  }

  private static Quota quota(
      String name, String role, Map<String, Double> guarantees, Map<String, Double> limits) {
    Quota quota = new Quota();
    quota.setMetadata(new ObjectMetaBuilder().withName(name).build());
    QuotaSpec spec = new QuotaSpec();
    spec.setRole(role);
    spec.setGuarantees(guarantees);
    spec.setLimits(limits);
    quota.setSpec(spec);
    return quota;
  }

  @Test
  void serverSideApplyingTheSameObjectTwiceChangesNothing() {
    Weight w = weight("batch", "batch", 2.5);
    Weight first = client.resource(w).fieldManager("gitops").serverSideApply();
    Weight second =
        client.resource(weight("batch", "batch", 2.5)).fieldManager("gitops").serverSideApply();

    assertThat(second.getMetadata().getResourceVersion())
        .isEqualTo(first.getMetadata().getResourceVersion());
    assertThat(second.getMetadata().getGeneration()).isEqualTo(1L);
    assertThat(second.getSpec().getWeight()).isEqualTo(2.5);
  }

  private static Weight weight(String name, String role, double value) {
    Weight w = new Weight();
    w.setMetadata(new ObjectMetaBuilder().withName(name).build());
    WeightSpec spec = new WeightSpec();
    spec.setRole(role);
    spec.setWeight(value);
    w.setSpec(spec);
    return w;
  }
}
