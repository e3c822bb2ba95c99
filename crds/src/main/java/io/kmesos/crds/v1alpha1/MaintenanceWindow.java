package io.kmesos.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.ArrayList;
import java.util.List;

@ValidationRule(value = "timestamp(self.start) > timestamp('1970-01-01T00:00:00Z')",
    message = "start must be an RFC 3339 time after 1970-01-01T00:00:00Z", fieldPath = ".start")
public class MaintenanceWindow {
  @Required
  @Size(min = 1, max = 1000)
  @JsonPropertyDescription("The machines that go down together in this window (at least one).")
  private List<MachineId> machines = new ArrayList<>();

  @Required
  // The shape, checked by the schema (the error names the field); the CEL rule above then checks
  // that it is a real time (no month 13).
  @Pattern("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$")
  @JsonPropertyDescription("When the machines become unavailable, RFC 3339, e.g. 2026-12-01T02:00:00Z.")
  private String start;

  @Required
  @Min(value = 0, inclusive = false)
  @JsonPropertyDescription("How long the machines are unavailable, in seconds (greater than 0).")
  private Long durationSeconds;

  public List<MachineId> getMachines() {
    return machines;
  }

  public void setMachines(List<MachineId> machines) {
    this.machines = machines;
  }

  public String getStart() {
    return start;
  }

  public void setStart(String start) {
    this.start = start;
  }

  public Long getDurationSeconds() {
    return durationSeconds;
  }

  public void setDurationSeconds(Long durationSeconds) {
    this.durationSeconds = durationSeconds;
  }
}
