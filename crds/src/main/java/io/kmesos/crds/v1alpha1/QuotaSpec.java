package io.kmesos.crds.v1alpha1;

import static io.kmesos.crds.v1alpha1.KmesosApi.NAME_REGEX;
import static io.kmesos.crds.v1alpha1.KmesosApi.NAME_RULE_TEXT;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.PrinterColumn;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.LinkedHashMap;
import java.util.Map;

@ValidationRule(
    value =
        "!has(self.guarantees) || !has(self.limits) || "
            + "self.guarantees.all(r, !(r in self.limits) || self.guarantees[r] <= self.limits[r])",
    message = "spec.guarantees must not exceed spec.limits for the same resource",
    fieldPath = ".guarantees")
public class QuotaSpec {
  @Required
  @Size(min = 1, max = KmesosApi.ROLE_MAX_LENGTH)
  @Pattern(KmesosApi.ROLE_PATTERN)
  @ValidationRule(
      value = "self == oldSelf",
      message = "spec.role cannot be changed; create another Quota for another role")
  @PrinterColumn(name = "Role")
  @JsonPropertyDescription(
      "The Mesos role the quota applies to, e.g. analytics or eng/frontend: '/'-separated "
          + "segments of letters, digits, '_', '.' and '-', none empty or beginning with '.' or '-'; at most 255 "
          + "characters. Cannot be changed.")
  private String role;

  @Size(max = KmesosApi.MAX_RESOURCES)
  @ValidationRule(
      value = "self.all(r, r.matches('" + NAME_REGEX + "'))",
      message = "resource names are " + NAME_RULE_TEXT)
  @JsonPropertyDescription(
      "Resources guaranteed to the role, by name (cpus, mem in MB, disk in MB, gpus): at most 32, "
          + "each non-negative and at most the limit of the same resource. A child role's guarantees (with its siblings') "
          + "must fit in its parent role's guarantees.")
  private Map<String, @Min(0) Double> guarantees = new LinkedHashMap<>();

  @Size(max = KmesosApi.MAX_RESOURCES)
  @ValidationRule(
      value = "self.all(r, r.matches('" + NAME_REGEX + "'))",
      message = "resource names are " + NAME_RULE_TEXT)
  @JsonPropertyDescription(
      "Resources the role may not exceed, by name: at most 32, each non-negative.")
  private Map<String, @Min(0) Double> limits = new LinkedHashMap<>();

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
