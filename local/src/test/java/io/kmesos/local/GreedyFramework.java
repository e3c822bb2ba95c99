package io.kmesos.local;

import com.google.protobuf.util.Durations;
import io.grpc.ChannelCredentials;
import io.kmesos.api.resources.ResourceProtos;
import io.kmesos.api.resources.Resources;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.Filters;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.framework.FrameworkClient;
import io.kmesos.framework.FrameworkSettings;
import io.kmesos.framework.Scheduler;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A framework for tests, in the test's JVM, talking to the real master: it launches one task of
 * {@code task} per offer (a Mesos-style greedy framework that lets DRF decide who gets the next
 * slot), up to {@code limit} tasks, and declines the rest of each offer without a filter, so the
 * next cycle offers it again to whichever role is then furthest below its weighted share. It keeps
 * the latest status of every task.
 */
final class GreedyFramework implements Scheduler, AutoCloseable {
  final String name;
  final String role;
  final Resources task;
  final String command;
  final int limit;
  final Map<String, TaskStatus> latest = new ConcurrentHashMap<>();
  private final AtomicInteger launched = new AtomicInteger();
  final FrameworkClient client;

  GreedyFramework(
      List<String> masters,
      ChannelCredentials credentials,
      Path token,
      FrameworkInfo.Builder info,
      String role,
      String task,
      String command,
      int limit) {
    this.name = info.getName();
    this.role = role;
    this.task = Resources.parse(task);
    this.command = command;
    this.limit = limit;
    this.client =
        FrameworkClient.start(
            FrameworkSettings.of(masters, info.addRoles(role).build(), credentials, token), this);
  }

  @Override
  public void offers(FrameworkClient client, List<Offer> offers) {
    for (Offer offer : offers) {
      Resources offered = ResourceProtos.read(offer.getResourcesList());
      int n = launched.get();
      if (n >= limit || !offered.contains(task)) {
        client.decline(List.of(offer.getId()), Filters.getDefaultInstance());
        continue;
      }
      launched.incrementAndGet();
      TaskInfo t =
          TaskInfo.newBuilder()
              .setTaskId(name + "-" + n)
              .setName(name + "-" + n)
              .setAgentId(offer.getAgentId())
              .addAllResources(ResourceProtos.write(task))
              .setCommand(CommandInfo.newBuilder().setValue(command))
              .build();
      // What the task leaves unused goes back at once (refuse 0): DRF picks the next taker.
      client.launch(
          List.of(offer.getId()),
          List.of(t),
          Filters.newBuilder().setRefuse(Durations.ZERO).build());
    }
  }

  @Override
  public void update(FrameworkClient client, TaskStatus status) {
    latest.put(status.getTaskId(), status); // one task's updates arrive in order
  }

  long inState(TaskState state) {
    return latest.values().stream().filter(s -> s.getState() == state).count();
  }

  int launched() {
    return launched.get();
  }

  @Override
  public void close() {
    client.close();
  }
}
