package io.kmesos.master.core;

import io.kmesos.api.operator.v1.Agent;
import io.kmesos.api.operator.v1.Framework;
import io.kmesos.api.operator.v1.GetStateResponse;
import io.kmesos.api.resources.ResourceProtos;
import io.kmesos.api.resources.Resources;
import io.kmesos.api.v1.Offer;
import java.util.List;

/**
 * The operator's GetState view of the core: frameworks, agents, tasks and outstanding offers, each
 * in ID order (offers in the order they were made), with the resources of live tasks summed per
 * framework and per agent.
 */
final class StateView {
  private StateView() {}

  static GetStateResponse of(MasterState state) {
    GetStateResponse.Builder view =
        GetStateResponse.newBuilder().setMasterInfo(state.config.masterInfo());
    for (FrameworkState f : state.frameworks.all()) {
      Framework.Builder b =
          Framework.newBuilder()
              .setInfo(f.info)
              .setConnected(f.connected())
              .setActive(f.connected())
              .setRecovered(f.recovered)
              .addAllUsedResources(ResourceProtos.write(used(state.tasks.ofFramework(f.id))));
      if (f.registeredAt != null) {
        b.setRegisteredTime(MasterStatuses.timestamp(f.registeredAt));
      }
      view.addFrameworks(b);
    }
    for (AgentBook.Agent a : state.agents.all()) {
      view.addAgents(
          Agent.newBuilder()
              .setId(a.id)
              .setHostname(a.hostname)
              .addAllResources(ResourceProtos.write(a.total))
              .addAllUsedResources(ResourceProtos.write(used(state.tasks.onAgent(a.id))))
              .setConnected(a.connected));
    }
    for (TaskRegistry.Entry t : state.tasks.matching(t -> true)) {
      view.addTasks(t.toProto());
    }
    for (List<Offer> offers : state.offers.byFramework().values()) {
      view.addAllOffers(offers);
    }
    return view.build();
  }

  private static Resources used(List<TaskRegistry.Entry> tasks) {
    Resources sum = Resources.EMPTY;
    for (TaskRegistry.Entry t : tasks) {
      if (t.charged()) {
        sum = sum.plus(t.resources);
      }
    }
    return sum;
  }
}
