package io.kmesos.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crdv2.generator.v1.SchemaCustomizer;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import io.kmesos.crds.schema.SchemaPatch;
import java.util.ArrayList;
import java.util.List;

// format: date-time makes the API server itself check that start is a real time (no month 13), with
// a message that names the field and the format; it also keeps the CEL rule below from running on
// a start it could not parse.
@SchemaCustomizer(
    value = SchemaPatch.class,
    input = "{\"properties\": {\"start\": {\"format\": \"date-time\"}}}")
@ValidationRule(
    value =
        "timestamp(self.start) > timestamp('1970-01-01T00:00:00Z') "
            + "&& timestamp(self.start) < timestamp('9999-01-01T00:00:00Z')",
    message = "start must be an RFC 3339 time after 1970-01-01T00:00:00Z and before the year 9999",
    fieldPath = ".start")
@ValidationRule(
    value = "self.machines.all(m, self.machines.exists_one(x, " + MachineId.SAME_M_X + "))",
    message = "a machine may appear only once in a window",
    fieldPath = ".machines")
public class MaintenanceWindow {
  /**
   * Machines in one window; a schedule has at most {@value MaintenanceScheduleSpec#MAX_WINDOWS}
   * windows.
   */
  public static final int MAX_MACHINES = 25;

  /** Mesos durations are int64 nanoseconds (292 years); ten years is plenty for maintenance. */
  public static final long MAX_DURATION_SECONDS = 10L * 366 * 24 * 3600;

  @Required
  @Size(min = 1, max = MAX_MACHINES)
  @JsonPropertyDescription(
      "The machines that go down together in this window: 1 to 25, each at most once in the "
          + "schedule.")
  private List<MachineId> machines = new ArrayList<>();

  @Required
  // The shape (RFC 3339 with a zone) by pattern; format: date-time then checks it is a real time.
  @Pattern(
      "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$")
  @Size(max = 35)
  @JsonPropertyDescription(
      "When the machines become unavailable: an RFC 3339 time with a zone, e.g. "
          + "2026-12-01T02:00:00Z.")
  private String start;

  @Required
  @Min(value = 0, inclusive = false)
  @Max(MAX_DURATION_SECONDS)
  @JsonPropertyDescription(
      "How long the machines are unavailable, in seconds: greater than 0, at most ten years.")
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
