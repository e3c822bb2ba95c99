package io.kmesos.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import java.util.ArrayList;
import java.util.List;

public class MaintenanceScheduleSpec {
  @Required
  @Size(min = 1, max = 100)
  @JsonPropertyDescription("Maintenance windows; a machine may appear in at most one window.")
  private List<MaintenanceWindow> windows = new ArrayList<>();

  @Size(max = 1000)
  @JsonPropertyDescription("Machines of this schedule to take down now (Mesos start maintenance: DRAINING to DOWN). "
      + "Leaving a machine out again brings it back up (stop maintenance), which also takes it out of the schedule "
      + "in the registry until the spec schedules it again.")
  private List<MachineId> down = new ArrayList<>();

  public List<MachineId> getDown() {
    return down;
  }

  public void setDown(List<MachineId> down) {
    this.down = down;
  }

  public List<MaintenanceWindow> getWindows() {
    return windows;
  }

  public void setWindows(List<MaintenanceWindow> windows) {
    this.windows = windows;
  }
}
