package io.kmesos.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.PrinterColumn;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.LinkedHashMap;
import java.util.Map;

@ValidationRule(value = "!has(self.guarantees) || self.guarantees.all(r, self.guarantees[r] >= 0.0)",
    message = "every quantity in spec.guarantees must be non-negative", fieldPath = ".guarantees")
@ValidationRule(value = "!has(self.limits) || self.limits.all(r, self.limits[r] >= 0.0)",
    message = "every quantity in spec.limits must be non-negative", fieldPath = ".limits")
@ValidationRule(value = "!has(self.guarantees) || !has(self.limits) || "
    + "self.guarantees.all(r, !(r in self.limits) || self.guarantees[r] <= self.limits[r])",
    message = "spec.guarantees must not exceed spec.limits for the same resource", fieldPath = ".guarantees")
public class QuotaSpec {
  @Required
  @Pattern(KmesosApi.ROLE_PATTERN)
  @ValidationRule(value = "self == oldSelf", message = "spec.role cannot be changed; create another Quota for another role")
  @PrinterColumn(name = "Role")
  @JsonPropertyDescription("The Mesos role the quota applies to.")
  private String role;

  @JsonPropertyDescription("Resources guaranteed to the role, by name (cpus, mem in MB, disk in MB, gpus).")
  private Map<String, Double> guarantees = new LinkedHashMap<>();

  @JsonPropertyDescription("Resources the role may not exceed, by name.")
  private Map<String, Double> limits = new LinkedHashMap<>();

  public String getRole() {
    return role;
  }

  public void setRole(String role) {
    this.role = role;
  }

  public Map<String, Double> getGuarantees() {
    return guarantees;
  }

  public void setGuarantees(Map<String, Double> guarantees) {
    this.guarantees = guarantees;
  }

  public Map<String, Double> getLimits() {
    return limits;
  }

  public void setLimits(Map<String, Double> limits) {
    this.limits = limits;
  }
}
