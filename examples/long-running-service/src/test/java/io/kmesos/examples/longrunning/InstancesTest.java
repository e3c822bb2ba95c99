package io.kmesos.examples.longrunning;

import static org.assertj.core.api.Assertions.assertThat;

import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.Offer;
import io.kmesos.api.v1.TaskInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStatus;
import io.kmesos.framework.ResourceText;
import java.util.List;
import org.junit.jupiter.api.Test;

/** How the service decides: launch what is missing, decline the rest, replace what ends. */
class InstancesTest {
  final Instances instances =
      new Instances(
          "svc",
          3,
          "web",
          ResourceText.parse("cpus:0.5;mem:64"),
          CommandInfo.newBuilder().setValue("sleep 1000").build());

  static Offer offer(String id, String agent, String role, String resources) {
    return Offer.newBuilder()
        .setId(id)
        .setAgentId(agent)
        .setAllocationRole(role)
        .addAllResources(ResourceText.parse(resources))
        .build();
  }

  @Test
  void launchesAsManyAsFitThenSuppresses() {
    Instances.OfferPlan plan =
        instances.onOffers(
            List.of(
                offer("o1", "a1", "web", "cpus:1;mem:1024"),
                offer("o2", "a2", "other", "cpus:8;mem:8192"),
                offer("o3", "a3", "web", "cpus:0.2;mem:1024"),
                offer("o4", "a4", "web", "cpus:4;mem:1024")));
    assertThat(plan.launches().get("o1"))
        .extracting(TaskInfo::getTaskId)
        .containsExactly("svc-0", "svc-1");
    assertThat(plan.launches().get("o4")).extracting(TaskInfo::getTaskId).containsExactly("svc-2");
    assertThat(plan.launches().get("o4").get(0).getAgentId()).isEqualTo("a4");
    assertThat(plan.declines()).containsExactly("o2", "o3");
    assertThat(plan.suppress()).isTrue();
    // Everything runs: further offers are declined.
    Instances.OfferPlan more =
        instances.onOffers(List.of(offer("o5", "a5", "web", "cpus:4;mem:1024")));
    assertThat(more.launches()).isEmpty();
    assertThat(more.declines()).containsExactly("o5");
  }

  @Test
  void replacesAnInstanceThatEnds() {
    instances.onOffers(List.of(offer("o1", "a1", "web", "cpus:4;mem:1024")));
    assertThat(instances.live()).isEqualTo(3);
    Instances.UpdatePlan running = instances.onUpdate(status("svc-1", TaskState.TASK_RUNNING));
    assertThat(running.revive()).isFalse();
    Instances.UpdatePlan failed = instances.onUpdate(status("svc-1", TaskState.TASK_FAILED));
    assertThat(failed.revive()).isTrue();
    assertThat(failed.message()).isEqualTo("svc-1 ended TASK_FAILED; 1 to replace");
    Instances.OfferPlan plan =
        instances.onOffers(List.of(offer("o2", "a2", "web", "cpus:4;mem:1024")));
    assertThat(plan.launches().get("o2")).extracting(TaskInfo::getTaskId).containsExactly("svc-3");
    // A repeated terminal update changes nothing.
    assertThat(instances.onUpdate(status("svc-1", TaskState.TASK_FAILED)).revive()).isFalse();
  }

  @Test
  void adoptsRunningTasksItLearnsOfAndKillsSurplus() {
    assertThat(instances.onUpdate(status("svc-7", TaskState.TASK_RUNNING)).message())
        .isEqualTo("svc-7 adopted (TASK_RUNNING)");
    instances.onUpdate(status("svc-8", TaskState.TASK_RUNNING));
    instances.onUpdate(status("svc-9", TaskState.TASK_RUNNING));
    assertThat(instances.onUpdate(status("svc-10", TaskState.TASK_RUNNING)).kill())
        .containsExactly("svc-10");
    assertThat(instances.missing()).isZero();
  }

  static TaskStatus status(String task, TaskState state) {
    return TaskStatus.newBuilder().setTaskId(task).setAgentId("a1").setState(state).build();
  }
}
