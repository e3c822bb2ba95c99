package io.kmesos.controller.reconcile;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.kmesos.crds.v1alpha1.RegistryStatus;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * {@code metav1.Condition}s on kmesos statuses: {@code Ready} (the registry holds the spec) and
 * {@code Synced} (the last reconcile reached the registry). A condition keeps its
 * lastTransitionTime while its status does not change, so reconciling the same spec twice produces
 * the same status and no write.
 */
public final class Conditions {
  public static final String READY = "Ready";
  public static final String SYNCED = "Synced";

  private Conditions() {}

  /** Sets (or replaces) condition {@code type} in {@code status}. */
  public static void set(
      RegistryStatus status,
      HasMetadata owner,
      String type,
      boolean ok,
      String reason,
      String message) {
    List<Condition> conditions = new ArrayList<>(status.getConditions());
    Condition old =
        conditions.stream().filter(c -> c.getType().equals(type)).findFirst().orElse(null);
    String value = ok ? "True" : "False";
    String since =
        old != null && old.getStatus().equals(value)
            ? old.getLastTransitionTime()
            : Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    conditions.removeIf(c -> c.getType().equals(type));
    conditions.add(
        new ConditionBuilder()
            .withType(type)
            .withStatus(value)
            .withReason(reason)
            .withMessage(bounded(message))
            .withObservedGeneration(owner.getMetadata().getGeneration())
            .withLastTransitionTime(since)
            .build());
    conditions.sort(Comparator.comparing(Condition::getType));
    status.setConditions(conditions);
  }

  /**
   * The longest message a condition carries: the schema allows 32,768 characters (as {@code
   * metav1.Condition} does), and a status the API server refuses would be retried forever.
   */
  static final int MAX_MESSAGE = 4096;

  static String bounded(String message) {
    return message == null || message.length() <= MAX_MESSAGE
        ? message
        : message.substring(0, MAX_MESSAGE - 40)
            + " ... ("
            + (message.length() - MAX_MESSAGE + 40)
            + " more characters)";
  }

  /** Whether two statuses say the same (so nothing needs writing). */
  public static boolean same(Object a, Object b) {
    return Serialization.asJson(a).equals(Serialization.asJson(b));
  }

  /** A status copy to modify (so the cached object is never changed in place). */
  @SuppressWarnings("unchecked")
  public static <S> S copy(S status, Class<S> type) {
    try {
      return status == null
          ? type.getDeclaredConstructor().newInstance()
          : Serialization.unmarshal(Serialization.asJson(status), type);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }
}
