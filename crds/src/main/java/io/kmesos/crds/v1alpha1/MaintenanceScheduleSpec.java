package io.kmesos.crds.v1alpha1;

import static io.kmesos.crds.v1alpha1.MachineId.SAME_D_X;
import static io.kmesos.crds.v1alpha1.MachineId.SAME_M_X;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.ArrayList;
import java.util.List;

// What the registry would refuse, checked here first. The registry keeps one entry per machine, so
// a machine is in at most one window of a schedule (overlapping or not); a machine taken down must
// be one of the schedule's. These rules compare every machine with every other: the bounds on
// windows and machines keep them within the API server's CEL cost budget (a schedule of 10 windows
// of 25 machines costs about 85% of what one rule may; more machines need more schedules).
@ValidationRule(
    value =
        "self.windows.all(w, w.machines.all(m, self.windows.exists_one(v, v.machines.exists(x, "
            + SAME_M_X
            + "))))",
    message = "a machine may be in only one window of a schedule",
    fieldPath = ".windows")
@ValidationRule(
    value =
        "!has(self.down) || self.down.all(d, self.windows.exists(w, w.machines.exists(x, "
            + SAME_D_X
            + ")))",
    message =
        "every machine in spec.down must be in one of spec.windows: only a scheduled machine can be taken down",
    fieldPath = ".down")
@ValidationRule(
    value = "!has(self.down) || self.down.all(d, self.down.exists_one(x, " + SAME_D_X + "))",
    message = "a machine may appear only once in spec.down",
    fieldPath = ".down")
public class MaintenanceScheduleSpec {
  public static final int MAX_WINDOWS = 10;

  @Required
  @Size(min = 1, max = MAX_WINDOWS)
  @JsonPropertyDescription(
      "Maintenance windows: 1 to 10 (of up to 25 machines each); a machine may appear in only one window of a schedule "
          + "(and in only one schedule).")
  private List<MaintenanceWindow> windows = new ArrayList<>();

  @Size(max = MAX_WINDOWS * MaintenanceWindow.MAX_MACHINES)
  @JsonPropertyDescription(
      "Machines of this schedule's windows to take down now (Mesos start maintenance: DRAINING to "
          + "DOWN), each once. Leaving a machine out again brings it back up (stop maintenance), which also takes it out "
          + "of the schedule in the registry until the spec schedules it again.")
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
