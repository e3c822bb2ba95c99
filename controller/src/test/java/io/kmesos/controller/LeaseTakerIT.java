package io.kmesos.controller;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.kmesos.controller.master.ControllerAccount;
import io.kmesos.devcluster.LocalKubeApiServer;
import io.kmesos.devcluster.WithKubeApiServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The standby's fast take of the Lease against a real kube-apiserver, as the controller's
 * ServiceAccount with the manifests' RBAC (the watch needs list and watch on Leases): a Lease the
 * master released (as its clean stop writes it) or let expire is taken as soon as it is seen free;
 * a current Lease, or one this controller no longer stands for, never.
 */
@WithKubeApiServer
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LeaseTakerIT {
  static final String NS = ControllerAccount.NAMESPACE;
  static final Duration PATIENCE = Duration.ofSeconds(90);

  KubernetesClient admin;
  KubernetesClient controller;

  @BeforeAll
  void install(LocalKubeApiServer server, KubernetesClient admin) throws Exception {
    this.admin = admin;
    this.controller = ControllerAccount.client(server, admin);
  }

  @Test
  void aReleasedLeaseIsTakenAtOnceAndACurrentOneNever() {
    String name = "taker-released";
    lease(name, "old", 3600, ZonedDateTime.now(ZoneOffset.UTC));
    AtomicInteger taken = new AtomicInteger();
    var metrics = new SimpleMeterRegistry();
    try (LeaseTaker taker =
        new LeaseTaker(
                controller,
                NS,
                name,
                "new",
                Duration.ofSeconds(15),
                () -> taken.get() == 0,
                taken::incrementAndGet,
                metrics)
            .start()) {
      // Held and renewed: an attempt (as a watch event would make it) leaves it alone.
      taker.tryTake();
      assertThat(holder(name)).isEqualTo("old");
      assertThat(taken).hasValue(0);

      ControllerMain.releaseLease(admin, NS, name, "old");
      await().atMost(PATIENCE).untilAsserted(() -> assertThat(taken).hasValue(1));
      Lease now = admin.leases().inNamespace(NS).withName(name).get();
      assertThat(now.getSpec().getHolderIdentity()).isEqualTo("new");
      assertThat(now.getSpec().getLeaseDurationSeconds()).isEqualTo(15);
      assertThat(now.getSpec().getLeaseTransitions()).isEqualTo(1);
      assertThat(metrics.get("kmesos.master.lease.fast.takes").counter().count()).isEqualTo(1.0);
    }
  }

  @Test
  void anExpiredLeaseIsTakenButNotByAControllerThatNoLongerStands() {
    String name = "taker-expired";
    AtomicBoolean stands = new AtomicBoolean(false);
    AtomicInteger taken = new AtomicInteger();
    try (LeaseTaker taker =
        new LeaseTaker(
            controller,
            NS,
            name,
            "new",
            Duration.ofSeconds(15),
            stands::get,
            taken::incrementAndGet,
            new SimpleMeterRegistry())) {
      lease(name, "dead", 15, ZonedDateTime.now(ZoneOffset.UTC).minusMinutes(1));
      taker.tryTake();
      assertThat(holder(name)).as("a controller that stopped standing").isEqualTo("dead");

      stands.set(true);
      taker.start();
      await().atMost(PATIENCE).untilAsserted(() -> assertThat(taken).hasValue(1));
      assertThat(holder(name)).isEqualTo("new");
    }
  }

  private void lease(String name, String holder, int seconds, ZonedDateTime renewed) {
    admin
        .leases()
        .inNamespace(NS)
        .resource(
            new LeaseBuilder()
                .withNewMetadata()
                .withName(name)
                .withNamespace(NS)
                .endMetadata()
                .withNewSpec()
                .withHolderIdentity(holder)
                .withLeaseDurationSeconds(seconds)
                .withAcquireTime(renewed)
                .withRenewTime(renewed)
                .withLeaseTransitions(0)
                .endSpec()
                .build())
        .create();
  }

  private String holder(String name) {
    return admin.leases().inNamespace(NS).withName(name).get().getSpec().getHolderIdentity();
  }
}
