package io.kmesos.controller.reconcile;

import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import io.kmesos.api.registry.v1.Operation;
import io.kmesos.api.registry.v1.RemoveQuota;
import io.kmesos.api.registry.v1.UpdateQuota;
import io.kmesos.controller.Master;
import io.kmesos.crds.v1alpha1.Quota;
import io.kmesos.crds.v1alpha1.QuotaSpec;
import io.kmesos.crds.v1alpha1.RegistryStatus;
import io.kmesos.registry.Names;
import io.kmesos.registry.OperationRefusedException;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A Quota resource is the quota of its role in the registry (Mesos {@code /quota}), if it keeps
 * Mesos's hierarchical rule ({@link QuotaTree}): a quota that would break it is not written, and
 * the resource reports why (Ready=False, {@code ExceedsParentGuarantees} or {@code
 * BelowChildrenGuarantees}); a Quota whose role's children still need its guarantees is not removed
 * from the registry, and its deletion waits for them. Whether a quota fits depends on its parent,
 * siblings and children, which may be applied in any order: a change to any of them reconciles it
 * again.
 */
@ControllerConfiguration(name = "quota")
public final class QuotaReconciler extends RegistryReconciler<Quota, RegistryStatus> {
  private static final RoleOwners<Quota> OWNERS = new RoleOwners<>(q -> q.getSpec().getRole());

  /**
   * Checking the tree and writing a quota are one step: two quotas of one tree reconciled at once
   * could each fit alone and not together.
   */
  private final Object tree = new Object();

  public QuotaReconciler(Master master) {
    super(master, RegistryStatus.class);
  }

  static Operation update(QuotaSpec spec) {
    return Operation.newBuilder()
        .setUpdateQuota(
            UpdateQuota.newBuilder()
                .setQuota(
                    io.kmesos.api.registry.v1.Quota.newBuilder()
                        .setRole(spec.getRole())
                        .putAllGuarantees(spec.getGuarantees())
                        .putAllLimits(spec.getLimits())))
        .build();
  }

  /**
   * When a Quota's spec or status changes, or it goes, the Quotas of related roles are reconciled
   * again. Its status too: a parent's new spec is in the registry (which is what its children are
   * checked against) only once its reconcile has stored it, and that reconcile's status write tells
   * so. The others' reconciles write nothing unless their own status changes, so this ends.
   */
  @Override
  public List<EventSource<?, Quota>> prepareEventSources(EventSourceContext<Quota> context) {
    return List.of(
        new InformerEventSource<>(
            InformerEventSourceConfiguration.from(Quota.class, Quota.class)
                .withName("related-quotas")
                .withOnUpdateFilter(
                    (now, before) ->
                        !Objects.equals(
                                now.getMetadata().getGeneration(),
                                before.getMetadata().getGeneration())
                            || !Objects.equals(
                                now.getMetadata().getDeletionTimestamp(),
                                before.getMetadata().getDeletionTimestamp())
                            || !Conditions.same(now.getStatus(), before.getStatus()))
                .withSecondaryToPrimaryMapper(
                    changed -> related(changed, context.getPrimaryCache().list()))
                .build(),
            context));
  }

  /**
   * The Quotas whose fit {@code changed} can alter: its parent's, its siblings' and its children's.
   */
  static Set<ResourceID> related(Quota changed, Stream<Quota> all) {
    String role = changed.getSpec().getRole();
    String parent = QuotaTree.parent(role);
    return all.filter(q -> !q.getMetadata().getName().equals(changed.getMetadata().getName()))
        .filter(
            q -> {
              String other = q.getSpec().getRole();
              String otherParent = QuotaTree.parent(other);
              return other.equals(parent)
                  || role.equals(otherParent)
                  || (parent != null && parent.equals(otherParent));
            })
        .map(ResourceID::fromResource)
        .collect(Collectors.toSet());
  }

  @Override
  public UpdateControl<Quota> reconcile(Quota quota, Context<Quota> context) throws Exception {
    RegistryStatus status = newStatus(quota);
    String role = quota.getSpec().getRole();
    Quota owner = OWNERS.owner(context.getPrimaryCache().list(), quota);
    if (owner != quota) {
      refused(
          quota,
          status,
          "RoleConflict",
          "Quota " + owner.getMetadata().getName() + " already sets the quota of role " + role);
      return finishInConflict(quota, status);
    }
    try {
      QuotaTree.Violation violation;
      boolean changed = false;
      synchronized (tree) {
        violation = QuotaTree.check(role, quota.getSpec().getGuarantees(), heldGuarantees());
        if (violation == null) {
          changed = apply(update(quota.getSpec()));
        }
      }
      if (violation != null) {
        refused(quota, status, violation.reason(), violation.message());
      } else {
        inRegistry(quota, status, changed, "the quota of role " + role + " is in the registry");
      }
    } catch (OperationRefusedException e) {
      refused(quota, status, "Refused", RefusalPaths.QUOTA.translate(e.getMessage()));
    }
    return finish(quota, status);
  }

  @Override
  public DeleteControl cleanup(Quota quota, Context<Quota> context) throws Exception {
    if (OWNERS.owner(context.getPrimaryCache().list(), quota) != quota) {
      return DeleteControl.defaultDelete(); // it never owned the role
    }
    String role = quota.getSpec().getRole();
    Optional<Quota> next = OWNERS.successor(context.getPrimaryCache().list(), quota);
    QuotaTree.Violation violation;
    synchronized (tree) {
      Map<String, Map<String, Double>> held = heldGuarantees();
      if (next.isPresent()
          && QuotaTree.check(role, next.get().getSpec().getGuarantees(), held) == null) {
        applyOrRefusal(update(next.get().getSpec())); // the next oldest takes the role over
        return DeleteControl.defaultDelete();
      }
      if (!held.containsKey(role)) {
        return DeleteControl.defaultDelete();
      }
      violation = QuotaTree.check(role, null, held);
      if (violation == null) {
        applyOrRefusal(
            Operation.newBuilder().setRemoveQuota(RemoveQuota.newBuilder().setRole(role)).build());
        return DeleteControl.defaultDelete();
      }
    }
    // Mesos refuses to remove a quota its child roles' guarantees depend on; Kubernetes cannot
    // refuse a deletion, so it waits (as a PersistentVolumeClaim in use does), saying why, until
    // the children change or go (which reconciles this one again).
    RegistryStatus status = newStatus(quota);
    refused(quota, status, violation.reason(), violation.message());
    if (!Conditions.same(quota.getStatus(), status)) {
      context
          .getClient()
          .resource(statusOnly(quota, status))
          .subresource("status")
          .patch(
              new PatchContext.Builder()
                  .withFieldManager(context.getControllerConfiguration().fieldManager())
                  .withForce(true)
                  .withPatchType(PatchType.SERVER_SIDE_APPLY)
                  .build());
    }
    return DeleteControl.noFinalizerRemoval();
  }

  /** The guarantees of every role with a quota in the registry. */
  private Map<String, Map<String, Double>> heldGuarantees() throws Exception {
    Map<String, Map<String, Double>> held = new TreeMap<>();
    for (var entry : registrar().entries(Names.QUOTAS).values()) {
      io.kmesos.api.registry.v1.Quota q = (io.kmesos.api.registry.v1.Quota) entry;
      held.put(q.getRole(), q.getGuaranteesMap());
    }
    return held;
  }
}
