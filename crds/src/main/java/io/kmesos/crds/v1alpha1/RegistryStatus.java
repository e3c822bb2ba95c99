package io.kmesos.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.SchemaFrom;
import io.fabric8.crdv2.generator.v1.SchemaCustomizer;
import io.fabric8.generator.annotation.Size;
import io.fabric8.kubernetes.api.model.Condition;
import io.kmesos.crds.schema.SchemaPatch;
import java.util.ArrayList;
import java.util.List;

/** What every kmesos resource reports back: how far the registry has caught up with its spec. */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
// Conditions are a map keyed by type, as metav1.Condition lists are (kubectl and SSA treat them
// so).
@SchemaCustomizer(
    value = SchemaPatch.class,
    input =
        """
    {"properties": {"conditions": {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]}}}""")
public class RegistryStatus {
  @JsonPropertyDescription("The metadata.generation of the spec that the conditions describe.")
  private Long observedGeneration;

  @SchemaFrom(type = ConditionSchema[].class)
  @Size(max = 8)
  @JsonPropertyDescription(
      "Ready: True when the registry holds the spec; False with a reason (Refused, RoleConflict, "
          + "ExceedsParentGuarantees, BelowChildrenGuarantees, Unreachable, Gone) and a message naming the field when it "
          + "does not. Synced: the last reconcile reached the registry.")
  private List<Condition> conditions = new ArrayList<>();

  @JsonPropertyDescription(
      "The registry version (the sequence number of its changes) at which the registry held "
          + "this object's current spec.")
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
