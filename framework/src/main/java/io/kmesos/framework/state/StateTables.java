package io.kmesos.framework.state;

import com.google.protobuf.util.Timestamps;
import io.kmesos.api.operator.v1.Agent;
import io.kmesos.api.operator.v1.Framework;
import io.kmesos.api.operator.v1.GetStateResponse;
import io.kmesos.api.v1.MasterInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.api.v1.Task;
import io.kmesos.framework.ResourceText;
import java.util.ArrayList;
import java.util.List;

/** The master's state as tables people read: frameworks, agents, tasks, outstanding offers. */
public final class StateTables {
  private StateTables() {}

  public static String format(GetStateResponse state) {
    StringBuilder out = new StringBuilder();
    MasterInfo m = state.getMasterInfo();
    out.append("MASTER ")
        .append(dash(m.getAddress()))
        .append("  id ")
        .append(dash(m.getId()))
        .append("  leader ")
        .append(dash(m.getLeaderIdentity()))
        .append("  version ")
        .append(dash(m.getVersion()));
    if (m.hasElectedAt()) {
      out.append("  elected ").append(Timestamps.toString(m.getElectedAt()));
    }
    out.append("\n\n");

    List<List<String>> frameworks = new ArrayList<>();
    for (Framework f : state.getFrameworksList()) {
      frameworks.add(
          List.of(
              f.getInfo().getId(),
              dash(f.getInfo().getName()),
              f.getInfo().getRolesList().isEmpty()
                  ? "*"
                  : String.join(",", f.getInfo().getRolesList()),
              dash(f.getInfo().getPrincipal()),
              f.getRecovered() ? "recovered" : f.getConnected() ? "connected" : "disconnected",
              f.getActive() ? "yes" : "no",
              dash(ResourceText.format(f.getUsedResourcesList()))));
    }
    section(
        out,
        "FRAMEWORKS",
        List.of("ID", "NAME", "ROLES", "PRINCIPAL", "CONNECTION", "ACTIVE", "USED"),
        frameworks);

    List<List<String>> agents = new ArrayList<>();
    for (Agent a : state.getAgentsList()) {
      agents.add(
          List.of(
              a.getId(),
              dash(a.getHostname()),
              a.getConnected() ? "yes" : "no",
              dash(ResourceText.format(a.getResourcesList())),
              dash(ResourceText.format(a.getUsedResourcesList())),
              dash(a.getVersion())));
    }
    section(
        out,
        "AGENTS",
        List.of("ID", "HOSTNAME", "CONNECTED", "RESOURCES", "USED", "VERSION"),
        agents);

    List<List<String>> tasks = new ArrayList<>();
    for (Task t : state.getTasksList()) {
      tasks.add(
          List.of(
              t.getInfo().getTaskId(),
              dash(t.getInfo().getName()),
              t.getFrameworkId(),
              dash(t.getInfo().getAgentId()),
              t.getState().name(),
              dash(ResourceText.format(t.getInfo().getResourcesList()))));
    }
    section(out, "TASKS", List.of("ID", "NAME", "FRAMEWORK", "AGENT", "STATE", "RESOURCES"), tasks);

    List<List<String>> offers = new ArrayList<>();
    for (Offer o : state.getOffersList()) {
      offers.add(
          List.of(
              o.getId(),
              o.getFrameworkId(),
              o.getAgentId(),
              dash(o.getHostname()),
              dash(o.getAllocationRole()),
              dash(ResourceText.format(o.getResourcesList()))));
    }
    section(
        out,
        "OFFERS",
        List.of("ID", "FRAMEWORK", "AGENT", "HOSTNAME", "ROLE", "RESOURCES"),
        offers);
    return out.toString();
  }

  private static String dash(String s) {
    return s == null || s.isEmpty() ? "-" : s;
  }

  /** A heading, then aligned columns (two spaces apart), or "(none)". */
  private static void section(
      StringBuilder out, String title, List<String> header, List<List<String>> rows) {
    out.append(title).append(" (").append(rows.size()).append(")\n");
    if (rows.isEmpty()) {
      out.append("  (none)\n\n");
      return;
    }
    int[] width = new int[header.size()];
    for (int i = 0; i < header.size(); i++) {
      width[i] = header.get(i).length();
      for (List<String> row : rows) {
        width[i] = Math.max(width[i], row.get(i).length());
      }
    }
    appendRow(out, header, width);
    for (List<String> row : rows) {
      appendRow(out, row, width);
    }
    out.append("\n");
  }

  private static void appendRow(StringBuilder out, List<String> cells, int[] width) {
    StringBuilder line = new StringBuilder("  ");
    for (int i = 0; i < cells.size(); i++) {
      line.append(cells.get(i));
      if (i < cells.size() - 1) {
        line.append(" ".repeat(width[i] - cells.get(i).length() + 2));
      }
    }
    out.append(line.toString().stripTrailing()).append("\n");
  }
}
