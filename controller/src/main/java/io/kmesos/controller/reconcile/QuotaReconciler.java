package io.kmesos.controller.reconcile;

import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.kmesos.api.registry.v1.Operation;
import io.kmesos.api.registry.v1.RemoveQuota;
import io.kmesos.api.registry.v1.UpdateQuota;
import io.kmesos.controller.Master;
import io.kmesos.crds.v1alpha1.Quota;
import io.kmesos.crds.v1alpha1.QuotaSpec;
import io.kmesos.crds.v1alpha1.RegistryStatus;
import java.util.Optional;

/** A Quota resource is the quota of its role in the registry (Mesos {@code /quota}). */
@ControllerConfiguration(name = "quota")
public final class QuotaReconciler extends RegistryReconciler<Quota, RegistryStatus> {
  private static final RoleOwners<Quota> OWNERS = new RoleOwners<>(q -> q.getSpec().getRole());

  public QuotaReconciler(Master master) {
    super(master, RegistryStatus.class);
  }

  static Operation update(QuotaSpec spec) {
    return Operation.newBuilder().setUpdateQuota(UpdateQuota.newBuilder().setQuota(
        io.kmesos.api.registry.v1.Quota.newBuilder().setRole(spec.getRole())
            .putAllGuarantees(spec.getGuarantees()).putAllLimits(spec.getLimits()))).build();
  }

  @Override
  public UpdateControl<Quota> reconcile(Quota quota, Context<Quota> context) throws Exception {
    RegistryStatus status = newStatus(quota);
    String role = quota.getSpec().getRole();
    Quota owner = OWNERS.owner(context.getPrimaryCache().list(), quota);
    if (owner != quota) {
      refused(quota, status, "RoleConflict", "Quota " + owner.getMetadata().getName()
          + " already sets the quota of role " + role);
      return finishInConflict(quota, status);
    }
    try {
      boolean changed = apply(update(quota.getSpec()));
      inRegistry(quota, status, changed, "the quota of role " + role + " is in the registry");
    } catch (io.kmesos.registry.OperationRefusedException e) {
      refused(quota, status, "Refused", e.getMessage());
    }
    return finish(quota, status);
  }

  @Override
  public DeleteControl cleanup(Quota quota, Context<Quota> context) throws Exception {
    if (OWNERS.owner(context.getPrimaryCache().list(), quota) != quota) {
      return DeleteControl.defaultDelete(); // it never owned the role
    }
    Optional<Quota> next = OWNERS.successor(context.getPrimaryCache().list(), quota);
    applyOrRefusal(next.isPresent() ? update(next.get().getSpec()) // the next oldest takes the role over
        : Operation.newBuilder().setRemoveQuota(RemoveQuota.newBuilder().setRole(quota.getSpec().getRole())).build());
    return DeleteControl.defaultDelete();
  }
}
