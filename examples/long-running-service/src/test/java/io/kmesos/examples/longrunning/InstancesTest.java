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
    Instances.UpdatePlan tenth = instances.onUpdate(status("svc-10", TaskState.TASK_RUNNING));
    assertThat(tenth.kill()).containsExactly(new Instances.Kill("svc-10", "a1"));
    assertThat(tenth.message())
        .isEqualTo("svc-10 adopted (TASK_RUNNING); 4 instances for 3: killing the newest, svc-10");
    assertThat(instances.missing()).isZero();
    // Its next launch number is past what it adopted.
    instances.onUpdate(status("svc-8", TaskState.TASK_FAILED));
    assertThat(
            instances
                .onOffers(List.of(offer("o1", "a1", "web", "cpus:4;mem:1024")))
                .launches()
                .get("o1"))
        .extracting(TaskInfo::getTaskId)
        .containsExactly("svc-11");
  }

  @Test
  void replacesUnreachableInstancesAndKillsTheNewestWhenTheyComeBack() {
    instances.onOffers(List.of(offer("o1", "a1", "web", "cpus:4;mem:1024")));
    for (String id : List.of("svc-0", "svc-1", "svc-2")) {
      instances.onUpdate(status(id, TaskState.TASK_RUNNING));
    }
    assertThat(instances.summary()).isEqualTo("instances: 3 of 3 running [svc-0, svc-1, svc-2]");
    // Agent a1 is out of reach: svc-0 and svc-2 (say) are replaced, but remembered.
    Instances.UpdatePlan lost = instances.onUpdate(status("svc-0", TaskState.TASK_UNREACHABLE));
    assertThat(lost.revive()).isTrue();
    assertThat(lost.message())
        .isEqualTo("svc-0 is unreachable (agent a1 is out of reach); 1 to replace");
    instances.onUpdate(status("svc-2", TaskState.TASK_UNREACHABLE));
    // Said again (a reconciliation): nothing more to do.
    assertThat(instances.onUpdate(status("svc-2", TaskState.TASK_UNREACHABLE)))
        .isEqualTo(Instances.UpdatePlan.NOTHING);
    assertThat(instances.missing()).isEqualTo(2);
    assertThat(instances.toReconcile())
        .containsExactly(new Instances.Kill("svc-0", "a1"), new Instances.Kill("svc-2", "a1"));
    Instances.OfferPlan plan =
        instances.onOffers(List.of(offer("o2", "a2", "web", "cpus:4;mem:1024")));
    assertThat(plan.launches().get("o2"))
        .extracting(TaskInfo::getTaskId)
        .containsExactly("svc-3", "svc-4");
    instances.onUpdate(status("svc-3", "a2", TaskState.TASK_RUNNING));
    assertThat(instances.summary())
        .isEqualTo(
            "instances: 2 of 3 running [svc-1, svc-3], launched [svc-4], unreachable [svc-0, svc-2]");
    // a1 is back: svc-0 runs again, one too many; the newest (svc-4, not even running yet) goes.
    Instances.UpdatePlan back = instances.onUpdate(status("svc-0", TaskState.TASK_RUNNING));
    assertThat(back.kill()).containsExactly(new Instances.Kill("svc-4", "a2"));
    assertThat(back.message())
        .isEqualTo(
            "svc-0 is back (TASK_RUNNING on agent a1); 4 instances for 3: killing the newest, svc-4");
    assertThat(back.revive()).isFalse();
    Instances.UpdatePlan second = instances.onUpdate(status("svc-2", TaskState.TASK_RUNNING));
    assertThat(second.kill()).containsExactly(new Instances.Kill("svc-3", "a2"));
    assertThat(instances.summary())
        .isEqualTo("instances: 3 of 3 running [svc-0, svc-1, svc-2], killing [svc-3, svc-4]");
    // Being killed, they are reconciled; one still running is killed again.
    assertThat(instances.toReconcile())
        .containsExactly(new Instances.Kill("svc-3", "a2"), new Instances.Kill("svc-4", "a2"));
    assertThat(instances.onUpdate(status("svc-3", "a2", TaskState.TASK_RUNNING)).kill())
        .containsExactly(new Instances.Kill("svc-3", "a2"));
    Instances.UpdatePlan killed = instances.onUpdate(status("svc-3", "a2", TaskState.TASK_KILLED));
    assertThat(killed.revive()).isFalse();
    assertThat(killed.message()).isEqualTo("svc-3 ended TASK_KILLED; it was one too many");
    instances.onUpdate(status("svc-4", "a2", TaskState.TASK_KILLED));
    assertThat(instances.toReconcile()).isEmpty();
    assertThat(instances.missing()).isZero();
    assertThat(instances.summary()).isEqualTo("instances: 3 of 3 running [svc-0, svc-1, svc-2]");
  }

  @Test
  void anUnreachableInstanceThatEndsIsForgottenWithoutAnotherReplacement() {
    instances.onOffers(List.of(offer("o1", "a1", "web", "cpus:4;mem:1024")));
    instances.onUpdate(status("svc-0", TaskState.TASK_UNREACHABLE));
    instances.onOffers(List.of(offer("o2", "a2", "web", "cpus:4;mem:1024")));
    Instances.UpdatePlan gone = instances.onUpdate(status("svc-0", TaskState.TASK_GONE));
    assertThat(gone.revive()).isFalse();
    assertThat(gone.message()).isEqualTo("svc-0 ended TASK_GONE; it was replaced already");
    assertThat(instances.missing()).isZero();
    assertThat(instances.toReconcile()).isEmpty();
  }

  @Test
  void launchesOfAnEarlierSubscriptionAreReconciledAndReplacedWhenUnknown() {
    instances.onSubscribed();
    instances.onOffers(List.of(offer("o1", "a1", "web", "cpus:4;mem:1024")));
    instances.onUpdate(status("svc-0", TaskState.TASK_RUNNING));
    // Launched under this subscription: the master has them, nothing to ask.
    assertThat(instances.toReconcile()).isEmpty();
    // The master failed over: the launches it never passed on are asked about.
    instances.onSubscribed();
    assertThat(instances.toReconcile())
        .containsExactly(new Instances.Kill("svc-1", "a1"), new Instances.Kill("svc-2", "a1"));
    instances.onUpdate(status("svc-1", TaskState.TASK_RUNNING));
    Instances.UpdatePlan unknown = instances.onUpdate(status("svc-2", TaskState.TASK_UNKNOWN));
    assertThat(unknown.revive()).isTrue();
    assertThat(unknown.message()).isEqualTo("svc-2 ended TASK_UNKNOWN; 1 to replace");
    assertThat(instances.toReconcile()).isEmpty();
    assertThat(instances.missing()).isEqualTo(1);
  }

  static TaskStatus status(String task, TaskState state) {
    return status(task, "a1", state);
  }

  static TaskStatus status(String task, String agent, TaskState state) {
    return TaskStatus.newBuilder().setTaskId(task).setAgentId(agent).setState(state).build();
  }
}
