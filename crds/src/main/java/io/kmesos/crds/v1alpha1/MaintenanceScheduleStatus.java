package io.kmesos.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Size;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

@JsonInclude(JsonInclude.Include.NON_EMPTY)
public class MaintenanceScheduleStatus extends RegistryStatus {
  @Size(max = MaintenanceScheduleSpec.MAX_WINDOWS * MaintenanceWindow.MAX_MACHINES)
  @JsonPropertyDescription(
      "The schedule's machines as the registry holds them, with their mode (Draining or Down).")
  private List<MachineStatus> machines = new ArrayList<>();

  public List<MachineStatus> getMachines() {
    return machines;
  }

  public void setMachines(List<MachineStatus> machines) {
    this.machines = machines;
  }

  /** A machine and its maintenance mode in the registry. */
  @JsonInclude(JsonInclude.Include.NON_EMPTY)
  public static class MachineStatus {
    @JsonPropertyDescription("The machine's hostname.")
    private String hostname;

    @JsonPropertyDescription("The machine's IP address.")
    private String ip;

    @JsonPropertyDescription("Draining (scheduled) or Down (in maintenance).")
    private String mode;

    public MachineStatus() {}

    public MachineStatus(String hostname, String ip, String mode) {
      this.hostname = hostname;
      this.ip = ip;
      this.mode = mode;
    }

    public String getHostname() {
      return hostname;
    }

    public void setHostname(String hostname) {
      this.hostname = hostname;
    }

    public String getIp() {
      return ip;
    }

    public void setIp(String ip) {
      this.ip = ip;
    }

    public String getMode() {
      return mode;
    }

    public void setMode(String mode) {
      this.mode = mode;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof MachineStatus m
          && Objects.equals(hostname, m.hostname)
          && Objects.equals(ip, m.ip)
          && Objects.equals(mode, m.mode);
    }

    @Override
    public int hashCode() {
      return Objects.hash(hostname, ip, mode);
    }
  }
}
