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

  public List<MaintenanceWindow> getWindows() {
    return windows;
  }

  public void setWindows(List<MaintenanceWindow> windows) {
    this.windows = windows;
  }
}
