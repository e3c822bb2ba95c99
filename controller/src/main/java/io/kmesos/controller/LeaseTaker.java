package io.kmesos.controller;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaderElectionRecord;
import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaseLock;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lets a standby take the Lease the moment it is free, instead of at the leader elector's next
 * poll. fabric8's elector (run by the operator SDK) only looks at the Lease every retry period
 * (plus up to 120 % jitter: 2–4.4 s with the default 2 s), so a Lease the old master released on
 * SIGTERM sat free for most of that; the handover's largest phase. A {@link MasterDetector} (an
 * informer on the Lease, which also notices a Lease that expired) tells this class when nobody
 * holds the Lease, and it then makes the elector's own move once: read the Lease and, if it is
 * still free, write this controller in as holder, conditional on the resourceVersion it read.
 *
 * <p>Safety is the elector's: the take is the same conditional update (two candidates cannot both
 * succeed; the loser gets a conflict), it only happens when the elector would take the Lease too
 * (holder empty, or not renewed within the configured lease duration), and only the holder is told
 * to campaign. The elector itself keeps running: at its next poll it finds this controller holding
 * the Lease, renews it, and calls its start-leading callback (the reconcilers start then; {@link
 * Master#lead} is idempotent). Its poll comes within 2.2 retry periods, well inside the lease
 * duration that the take wrote. And a Lease is never trusted for safety anyway: the log fences a
 * deposed writer.
 */
final class LeaseTaker implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LeaseTaker.class);

  private final KubernetesClient client;
  private final String namespace;
  private final String name;
  private final String identity;
  private final Duration leaseDuration;
  private final BooleanSupplier mayTake;
  private final Runnable taken;
  private final MasterDetector detector;
  private final Counter takes;
  private final ExecutorService worker =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "lease-taker");
            t.setDaemon(true);
            return t;
          });

  /**
   * @param leaseDuration the elector's configured lease duration (what a take writes, and how long
   *     an unrenewed Lease holds, as the elector judges it)
   * @param mayTake whether this controller still stands for the Lease (not leading, not stopping)
   * @param taken called (on this class's thread) once this controller holds the Lease
   */
  LeaseTaker(
      KubernetesClient client,
      String namespace,
      String name,
      String identity,
      Duration leaseDuration,
      BooleanSupplier mayTake,
      Runnable taken,
      MeterRegistry metrics) {
    this.client = client;
    this.namespace = namespace;
    this.name = name;
    this.identity = identity;
    this.leaseDuration = leaseDuration;
    this.mayTake = mayTake;
    this.taken = taken;
    this.detector = new MasterDetector(client, namespace, name);
    this.takes =
        Counter.builder("kmesos.master.lease.fast.takes")
            .description(
                "Times this controller took the free Lease as soon as its watch saw it free, "
                    + "ahead of the leader elector's poll")
            .register(metrics);
  }

  /** Starts watching the Lease. */
  LeaseTaker start() {
    detector.watch(
        holder -> {
          if (holder.isEmpty() && mayTake.getAsBoolean()) {
            long seen = System.nanoTime();
            try {
              worker.execute(() -> tryTake(seen));
            } catch (RejectedExecutionException e) {
              // closed: stopping
            }
          }
        });
    return this;
  }

  /** One attempt, as the elector's tryAcquireOrRenew makes it; failures leave it to the elector. */
  void tryTake() {
    tryTake(System.nanoTime());
  }

  /**
   * @param seen when the watch saw the Lease free (System.nanoTime), for the log: the handover's
   *     phases
   */
  private void tryTake(long seen) {
    if (!mayTake.getAsBoolean()) {
      return;
    }
    try {
      LeaseLock lock = new LeaseLock(namespace, name, identity);
      LeaderElectionRecord current = lock.get(client);
      if (current == null) {
        return; // no Lease yet: the elector creates it
      }
      ZonedDateTime now = ZonedDateTime.now(ZoneOffset.UTC);
      if (!free(current, leaseDuration, now)) {
        return; // taken again meanwhile (by the other standby, or renewed)
      }
      // The same record the elector writes when it acquires; update() is conditional on the
      // resourceVersion get() read, so a concurrent take by anyone else makes this one fail.
      lock.update(
          client,
          new LeaderElectionRecord(
              identity, leaseDuration, now, now, current.getLeaderTransitions() + 1));
      takes.increment();
      log.info(
          "controller {}: took the free Lease {}/{} as soon as it was seen free ({} ms ago)",
          identity,
          namespace,
          name,
          (System.nanoTime() - seen) / 1_000_000);
      taken.run();
    } catch (KubernetesClientException e) {
      log.info(
          "controller {}: did not take the free Lease {}/{} ({}); the leader elector tries at its"
              + " next poll",
          identity,
          namespace,
          name,
          e.getCode() == 409 ? "another candidate was first" : e.getMessage());
    }
  }

  /** Whether the elector would take this Lease now: nobody holds it, or it was not renewed. */
  static boolean free(LeaderElectionRecord r, Duration leaseDuration, ZonedDateTime now) {
    String holder = r.getHolderIdentity();
    return holder == null
        || holder.isEmpty()
        || Optional.ofNullable(r.getRenewTime())
            .map(t -> !t.plus(leaseDuration).isAfter(now))
            .orElse(true);
  }

  @Override
  public void close() {
    detector.close();
    worker.shutdownNow();
  }
}
