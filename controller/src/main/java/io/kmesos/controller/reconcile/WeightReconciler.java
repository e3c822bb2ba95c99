package io.kmesos.controller.reconcile;

import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.kmesos.api.registry.v1.Operation;
import io.kmesos.api.registry.v1.RemoveWeights;
import io.kmesos.api.registry.v1.UpdateWeights;
import io.kmesos.controller.Master;
import io.kmesos.crds.v1alpha1.RegistryStatus;
import io.kmesos.crds.v1alpha1.Weight;
import io.kmesos.crds.v1alpha1.WeightSpec;
import io.kmesos.registry.OperationRefusedException;
import java.util.Optional;

/** A Weight resource is the weight of its role in the registry (Mesos {@code /weights}). */
@ControllerConfiguration(name = "weight")
public final class WeightReconciler extends RegistryReconciler<Weight, RegistryStatus> {
  private static final RoleOwners<Weight> OWNERS = new RoleOwners<>(w -> w.getSpec().getRole());

  public WeightReconciler(Master master) {
    super(master, RegistryStatus.class);
  }

  static Operation update(WeightSpec spec) {
    return Operation.newBuilder()
        .setUpdateWeights(
            UpdateWeights.newBuilder()
                .addWeights(
                    io.kmesos.api.registry.v1.Weight.newBuilder()
                        .setRole(spec.getRole())
                        .setWeight(spec.getWeight())))
        .build();
  }

  @Override
  public UpdateControl<Weight> reconcile(Weight weight, Context<Weight> context) throws Exception {
    RegistryStatus status = newStatus(weight);
    String role = weight.getSpec().getRole();
    Weight owner = OWNERS.owner(context.getPrimaryCache().list(), weight);
    if (owner != weight) {
      refused(
          weight,
          status,
          "RoleConflict",
          "Weight " + owner.getMetadata().getName() + " already sets the weight of role " + role);
      return finishInConflict(weight, status);
    }
    try {
      boolean changed = apply(update(weight.getSpec()));
      inRegistry(weight, status, changed, "the weight of role " + role + " is in the registry");
    } catch (OperationRefusedException e) {
      refused(weight, status, "Refused", RefusalPaths.WEIGHT.translate(e.getMessage()));
    }
    return finish(weight, status);
  }

  @Override
  public DeleteControl cleanup(Weight weight, Context<Weight> context) throws Exception {
    if (OWNERS.owner(context.getPrimaryCache().list(), weight) != weight) {
      return DeleteControl.defaultDelete(); // it never owned the role
    }
    Optional<Weight> next = OWNERS.successor(context.getPrimaryCache().list(), weight);
    applyOrRefusal(
        next.isPresent()
            ? update(next.get().getSpec()) // the next oldest takes the role over
            : Operation.newBuilder()
                .setRemoveWeights(RemoveWeights.newBuilder().addRoles(weight.getSpec().getRole()))
                .build());
    return DeleteControl.defaultDelete();
  }
}
