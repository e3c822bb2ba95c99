package io.kmesos.controller;

import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * Tells clients (agents, frameworks, tools) which controller is the master: the holder of the
 * {@code kmesos-master} Lease, while the Lease is current. This is the ZooKeeper master detector of
 * Mesos, re-made on a Lease. It is a hint, never a safety guarantee: a master that lost its Lease
 * is fenced by the log itself.
 */
public final class MasterDetector implements AutoCloseable {
  private final KubernetesClient client;
  private final String namespace;
  private final String leaseName;
  private SharedIndexInformer<Lease> informer;

  /**
   * A Lease whose holder died expires without any event (nobody writes it), so the watched Lease is
   * looked at again every second as well.
   */
  private ScheduledExecutorService expiry;

  public MasterDetector(KubernetesClient client, String namespace, String leaseName) {
    this.client = client;
    this.namespace = namespace;
    this.leaseName = leaseName;
  }

  /** The master's identity now, or empty when nobody holds a current Lease. */
  public Optional<String> current() {
    return holder(client.leases().inNamespace(namespace).withName(leaseName).get());
  }

  /** Calls {@code onChange} with the master (or empty) now and whenever the Lease changes hands. */
  public synchronized void watch(Consumer<Optional<String>> onChange) {
    if (informer != null) {
      throw new IllegalStateException("already watching");
    }
    // Empty until the informer delivered the Lease (or its absence) once: nothing to re-check
    // before.
    var lastLease = new AtomicReference<Optional<Lease>>();
    var last = new AtomicReference<Optional<String>>();
    // Looks at the latest Lease the informer delivered; only the informer changes which one that
    // is.
    Runnable recheck =
        () -> {
          synchronized (last) {
            Optional<Lease> seen = lastLease.get();
            if (seen == null) {
              return;
            }
            Optional<String> now = holder(seen.orElse(null));
            if (!now.equals(last.get())) {
              last.set(now);
              onChange.accept(now);
            }
          }
        };
    Consumer<Lease> changed =
        lease -> {
          synchronized (last) {
            lastLease.set(Optional.ofNullable(lease));
            recheck.run();
          }
        };
    informer =
        client
            .leases()
            .inNamespace(namespace)
            .withName(leaseName)
            .inform(
                new ResourceEventHandler<>() {
                  private void changed(Lease lease) {
                    changed.accept(lease);
                  }

                  @Override
                  public void onAdd(Lease lease) {
                    changed(lease);
                  }

                  @Override
                  public void onUpdate(Lease before, Lease after) {
                    changed(after);
                  }

                  @Override
                  public void onDelete(Lease lease, boolean finalStateUnknown) {
                    changed(null);
                  }
                });
    expiry =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "master-detector-expiry");
              t.setDaemon(true);
              return t;
            });
    expiry.scheduleWithFixedDelay(recheck, 1, 1, TimeUnit.SECONDS);
  }

  static Optional<String> holder(Lease lease) {
    if (lease == null
        || lease.getSpec() == null
        || lease.getSpec().getHolderIdentity() == null
        || lease.getSpec().getHolderIdentity().isEmpty()) {
      return Optional.empty();
    }
    ZonedDateTime renewed = lease.getSpec().getRenewTime();
    Integer seconds = lease.getSpec().getLeaseDurationSeconds();
    if (renewed != null
        && seconds != null
        && renewed.toInstant().plusSeconds(seconds).isBefore(Instant.now())) {
      return Optional.empty(); // expired: the holder stopped renewing
    }
    return Optional.of(lease.getSpec().getHolderIdentity());
  }

  @Override
  public synchronized void close() {
    if (informer != null) {
      informer.close();
      informer = null;
      expiry.shutdownNow();
      expiry = null;
    }
  }
}
