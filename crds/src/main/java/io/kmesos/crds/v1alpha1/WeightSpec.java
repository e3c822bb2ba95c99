package io.kmesos.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.PrinterColumn;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

public class WeightSpec {
  @Required
  @Size(min = 1, max = KmesosApi.ROLE_MAX_LENGTH)
  @Pattern(KmesosApi.ROLE_PATTERN)
  @ValidationRule(
      value = "self == oldSelf",
      message = "spec.role cannot be changed; create another Weight for another role")
  @PrinterColumn(name = "Role")
  @JsonPropertyDescription(
      "The Mesos role, e.g. analytics or eng/frontend: '/'-separated segments of letters, digits, "
          + "'_', '.' and '-', none empty or beginning with '.' or '-'; at most 255 characters. Cannot be changed.")
  private String role;

  @Required
  @Min(value = 0, inclusive = false)
  @PrinterColumn(name = "Weight")
  @JsonPropertyDescription(
      "The role's weight in fair sharing; must be greater than 0 (the default for a role is 1).")
  private Double weight;

  public String getRole() {
    return role;
  }

  public void setRole(String role) {
    this.role = role;
  }

  public Double getWeight() {
    return weight;
  }

  public void setWeight(Double weight) {
    this.weight = weight;
  }
}
