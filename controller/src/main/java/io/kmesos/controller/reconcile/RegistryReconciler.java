package io.kmesos.controller.reconcile;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.CustomResource;
import io.javaoperatorsdk.operator.api.reconciler.Cleaner;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.kmesos.api.cli.Failures;
import io.kmesos.api.registry.v1.Operation;
import io.kmesos.controller.Master;
import io.kmesos.crds.v1alpha1.RegistryStatus;
import io.kmesos.registry.OperationRefusedException;
import io.kmesos.registry.Registrar;
import io.kmesos.replica.state.State;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * What the four reconcilers share: they turn a resource's spec into registry operations on the
 * master's registrar, and write back what the registry holds as status (never spec). An operation
 * the registry refuses is reported in the Ready condition, not retried; a registrar that is not (or
 * no longer) available makes the reconcile fail, and the framework retries it: meanwhile {@code
 * Synced} is False with the failure's message (and a Warning event says so once), so that {@code
 * kubectl get}, Argo CD and Flux show why the spec is not in the registry yet.
 */
abstract class RegistryReconciler<R extends CustomResource<?, S>, S extends RegistryStatus>
    implements Reconciler<R>, Cleaner<R> {
  protected final Master master;
  private final Class<S> statusType;

  RegistryReconciler(Master master, Class<S> statusType) {
    this.master = master;
    this.statusType = statusType;
  }

  /** Applies {@code op}: true if it changed the registry, false if it already was so. */
  protected boolean apply(Operation op) throws Exception {
    try {
      return master.registrar().apply(op).get(60, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw State.unwrap(e);
    }
  }

  /** Like {@link #apply} but a refusal is returned (its message), not thrown. */
  protected String applyOrRefusal(Operation op) throws Exception {
    try {
      apply(op);
      return null;
    } catch (OperationRefusedException e) {
      return e.getMessage();
    }
  }

  protected Registrar registrar() throws Exception {
    return master.registrar();
  }

  /** A copy of the resource's status to fill in, stamped with the generation it describes. */
  protected S newStatus(R resource) {
    S status = Conditions.copy(resource.getStatus(), statusType);
    status.setObservedGeneration(resource.getMetadata().getGeneration());
    return status;
  }

  /** The registry holds the spec: Ready and Synced, and the registry version that holds it. */
  protected void inRegistry(R resource, S status, boolean changed, String message)
      throws Exception {
    if (changed || status.getRegistryVersion() == null) {
      status.setRegistryVersion(registrar().version());
    }
    Conditions.set(status, resource, Conditions.READY, true, "InRegistry", message);
    Conditions.set(
        status,
        resource,
        Conditions.SYNCED,
        true,
        "Applied",
        "the registry was updated from this spec");
  }

  /** The registry refused the spec (or it conflicts): not Ready, with why. */
  protected void refused(R resource, S status, String reason, String message) {
    Conditions.set(status, resource, Conditions.READY, false, reason, message);
    Conditions.set(
        status,
        resource,
        Conditions.SYNCED,
        true,
        "Applied",
        "the registry was consulted for this spec");
  }

  /**
   * A failed reconcile (JOSDK's error-status hook, before each retry): {@code Synced} False with
   * the failure's message, written as a status-only patch like every other status write; nothing if
   * it already says so. {@code Ready} keeps what the registry last held.
   */
  @Override
  public ErrorStatusUpdateControl<R> updateErrorStatus(
      R resource, Context<R> context, Exception e) {
    if (master.stopping()) {
      // This master is handing over (it refuses registry writes from the moment it was signalled):
      // the failure is its own stop, not the resource's; the next master reconciles it.
      return ErrorStatusUpdateControl.noStatusUpdate();
    }
    S status = Conditions.copy(resource.getStatus(), statusType);
    String message = "reconcile failed: " + Failures.oneLine(e);
    Conditions.set(status, resource, Conditions.SYNCED, false, "ReconcileFailed", message);
    if (Conditions.same(resource.getStatus(), status)) {
      return ErrorStatusUpdateControl.noStatusUpdate();
    }
    Condition before =
        resource.getStatus() == null
            ? null
            : resource.getStatus().getConditions().stream()
                .filter(c -> c.getType().equals(Conditions.SYNCED))
                .findFirst()
                .orElse(null);
    if (before == null || !"False".equals(before.getStatus())) {
      warningEvent(context, resource, "ReconcileFailed", "Reconcile", message);
    }
    return ErrorStatusUpdateControl.patchStatus(statusOnly(resource, ownFields(status)));
  }

  /** Records a notable transition of {@code resource} as a Normal event (see {@link Events}). */
  protected void normalEvent(
      Context<R> context, R resource, String reason, String action, String note) {
    Events.normal(context.getClient(), master.info().getId(), resource, reason, action, note);
  }

  protected void warningEvent(
      Context<R> context, R resource, String reason, String action, String note) {
    Events.warning(context.getClient(), master.info().getId(), resource, reason, action, note);
  }

  /**
   * How often a resource that lost its role to an older one looks again: the owner's deletion hands
   * the role over in the registry at once (see {@link RoleOwners}), but only this brings the
   * successor's own status up to date, since no event of the successor announces it.
   */
  static final Duration ROLE_CONFLICT_RECHECK = Duration.ofSeconds(10);

  /** {@link #finish}, for a resource in conflict over its role: it looks again later. */
  protected UpdateControl<R> finishInConflict(R resource, S status) {
    return finish(resource, status).rescheduleAfter(ROLE_CONFLICT_RECHECK);
  }

  /** Patches the status only when it changed, so that reconciling again writes nothing. */
  protected UpdateControl<R> finish(R resource, S status) {
    if (Conditions.same(resource.getStatus(), status)) {
      return UpdateControl.noUpdate();
    }
    return UpdateControl.patchStatus(statusOnly(resource, ownFields(status)));
  }

  /**
   * The part of {@code status} this controller writes. Compared whole (so an unchanged status is
   * not written again) but sent without the fields another writer owns: a forced server-side apply
   * that carried them would make the controller their co-owner, and its copy, read from a cache,
   * could then put back a value their writer has since replaced.
   */
  protected S ownFields(S status) {
    return status;
  }

  /**
   * What a status write sends: the object's identity and its status, nothing else. JOSDK applies
   * the object it is given server-side, forced, to the status subresource; the API server keeps
   * only the status of it, but the field manager would still own every label, annotation and
   * finalizer sent along, so a GitOps tool could then neither change nor remove them (issue #10).
   * The resourceVersion stays: a status computed from an object that has changed since is refused
   * (409) and the reconcile is retried on what the object is now.
   */
  @SuppressWarnings("unchecked")
  static <R extends CustomResource<?, S>, S> R statusOnly(R resource, S status) {
    R patch;
    try {
      patch = (R) resource.getClass().getDeclaredConstructor().newInstance();
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
    patch.setMetadata(
        new ObjectMetaBuilder()
            .withName(resource.getMetadata().getName())
            .withNamespace(resource.getMetadata().getNamespace())
            .withResourceVersion(resource.getMetadata().getResourceVersion())
            .build());
    patch.setStatus(status);
    return patch;
  }
}
