package io.kmesos.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crdv2.generator.v1.SchemaCustomizer;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.kmesos.crds.schema.SchemaPatch;

/**
 * The schema of one status condition, exactly as Kubernetes' own {@code metav1.Condition} (same
 * required fields, bounds, patterns and descriptions). Only the schema is taken from this class
 * ({@code @SchemaFrom} on {@link RegistryStatus#getConditions()}); the objects are fabric8's {@link
 * io.fabric8.kubernetes.api.model.Condition}.
 */
@SchemaCustomizer(
    value = SchemaPatch.class,
    input = "{\"properties\": {\"lastTransitionTime\": {\"format\": \"date-time\"}}}")
final class ConditionSchema {
  enum Status {
    True,
    False,
    Unknown
  }

  @Required
  @Size(max = 316)
  @Pattern(
      "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$")
  @JsonPropertyDescription(
      "Type of condition in CamelCase: Ready (the registry holds the spec) or Synced (the last "
          + "reconcile reached the registry).")
  public String type;

  @Required
  @JsonPropertyDescription("Status of the condition, one of True, False, Unknown.")
  public Status status;

  @Min(0)
  @JsonPropertyDescription("The .metadata.generation that the condition was set based upon.")
  public Long observedGeneration;

  @Required
  @JsonPropertyDescription(
      "The last time the condition transitioned from one status to another (RFC 3339).")
  public String lastTransitionTime;

  @Required
  @Size(min = 1, max = 1024)
  @Pattern("^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
  @JsonPropertyDescription(
      "A programmatic identifier for the condition's last transition, in CamelCase, e.g. "
          + "InRegistry, Refused, RoleConflict, ExceedsParentGuarantees.")
  public String reason;

  @Required
  @Size(max = 32768)
  @JsonPropertyDescription(
      "A human readable message about the transition; a refusal names the field of this "
          + "resource it concerns.")
  public String message;
}
