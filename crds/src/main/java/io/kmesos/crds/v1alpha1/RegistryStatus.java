package io.kmesos.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;

/** What every kmesos resource reports back: how far the registry has caught up with its spec. */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public class RegistryStatus {
  /** The {@code metadata.generation} of the spec that the conditions describe. */
  private Long observedGeneration;
  /** {@code metav1.Condition}s: {@code Ready} (in the registry as specified) and {@code Synced}. */
  private List<Condition> conditions = new ArrayList<>();
  /** The registry version that holds this object's current spec. */
  private Long registryVersion;

  public Long getObservedGeneration() {
    return observedGeneration;
  }

  public void setObservedGeneration(Long observedGeneration) {
    this.observedGeneration = observedGeneration;
  }

  public List<Condition> getConditions() {
    return conditions;
  }

  public void setConditions(List<Condition> conditions) {
    this.conditions = conditions;
  }

  public Long getRegistryVersion() {
    return registryVersion;
  }

  public void setRegistryVersion(Long registryVersion) {
    this.registryVersion = registryVersion;
  }
}
