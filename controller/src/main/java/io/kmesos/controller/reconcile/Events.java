package io.kmesos.controller.reconcile;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.MicroTime;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.api.model.events.v1.Event;
import io.fabric8.kubernetes.api.model.events.v1.EventBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kubernetes Events ({@code events.k8s.io/v1}) for the notable transitions of kmesos resources: an
 * agent admitted or removed, a removal held back by the rate limit, machines taken DOWN or brought
 * back UP, a reconcile that failed. {@code kubectl describe}, {@code kubectl events}, Argo CD and
 * Flux show them next to the object. Events of the cluster-scoped kmesos kinds live in namespace
 * {@code default}, as the API server's own events about Nodes do.
 *
 * <p>An event is a report, not state: failing to record one is logged and never fails a reconcile.
 */
final class Events {
  private static final Logger log = LoggerFactory.getLogger(Events.class);

  static final String REPORTING_CONTROLLER = "kmesos.io/controller";

  /** {@code note} is at most 1 kB (the API server refuses longer ones). */
  static final int MAX_NOTE = 1024;

  private static final DateTimeFormatter MICRO_TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSSX", Locale.ROOT)
          .withZone(ZoneOffset.UTC);

  private Events() {}

  static void normal(
      KubernetesClient client,
      String instance,
      HasMetadata regarding,
      String reason,
      String action,
      String note) {
    record(client, instance, regarding, "Normal", reason, action, note);
  }

  static void warning(
      KubernetesClient client,
      String instance,
      HasMetadata regarding,
      String reason,
      String action,
      String note) {
    record(client, instance, regarding, "Warning", reason, action, note);
  }

  private static void record(
      KubernetesClient client,
      String instance,
      HasMetadata regarding,
      String type,
      String reason,
      String action,
      String note) {
    String namespace =
        regarding.getMetadata().getNamespace() == null
            ? "default"
            : regarding.getMetadata().getNamespace();
    // Named as client-go names events: the object's name and a unique suffix.
    String name =
        regarding.getMetadata().getName()
            + "."
            + Long.toHexString(System.currentTimeMillis())
            + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 16));
    Event event =
        new EventBuilder()
            .withNewMetadata()
            .withName(name)
            .withNamespace(namespace)
            .endMetadata()
            .withEventTime(new MicroTime(MICRO_TIME.format(Instant.now())))
            .withReportingController(REPORTING_CONTROLLER)
            .withReportingInstance(instance.length() <= 128 ? instance : instance.substring(0, 128))
            .withType(type)
            .withReason(reason)
            .withAction(action)
            .withNote(note.length() <= MAX_NOTE ? note : note.substring(0, MAX_NOTE - 3) + "...")
            .withRegarding(
                new ObjectReferenceBuilder()
                    .withApiVersion(regarding.getApiVersion())
                    .withKind(regarding.getKind())
                    .withName(regarding.getMetadata().getName())
                    .withNamespace(regarding.getMetadata().getNamespace())
                    .withUid(regarding.getMetadata().getUid())
                    .withResourceVersion(regarding.getMetadata().getResourceVersion())
                    .build())
            .build();
    try {
      client.events().v1().events().inNamespace(namespace).resource(event).create();
      log.info(
          "{} {}: {} ({})", regarding.getKind(), regarding.getMetadata().getName(), reason, note);
    } catch (RuntimeException e) {
      log.warn(
          "could not record the event {} of {} {}: {}",
          reason,
          regarding.getKind(),
          regarding.getMetadata().getName(),
          e.getMessage());
    }
  }
}
