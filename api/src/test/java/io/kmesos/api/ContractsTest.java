package io.kmesos.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Timestamp;
import io.grpc.MethodDescriptor.MethodType;
import io.grpc.ServiceDescriptor;
import io.kmesos.api.agent.v1.AgentMessage;
import io.kmesos.api.agent.v1.AgentSessionGrpc;
import io.kmesos.api.agent.v1.MasterMessage;
import io.kmesos.api.operator.v1.OperatorGrpc;
import io.kmesos.api.scheduler.v1.Event;
import io.kmesos.api.scheduler.v1.SchedulerGrpc;
import io.kmesos.api.scheduler.v1.SchedulerProto;
import io.kmesos.api.v1.CommandInfo;
import io.kmesos.api.v1.TaskState;
import io.kmesos.api.v1.TaskStates;
import io.kmesos.api.v1.TaskStatus;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** What users of the task runtime's contracts rely on, so that a change that breaks it fails. */
class ContractsTest {
  private static final Set<String> MESOS_STATES =
      Set.of(
          "TASK_STAGING",
          "TASK_STARTING",
          "TASK_RUNNING",
          "TASK_KILLING",
          "TASK_FINISHED",
          "TASK_FAILED",
          "TASK_KILLED",
          "TASK_ERROR",
          "TASK_LOST",
          "TASK_DROPPED",
          "TASK_UNREACHABLE",
          "TASK_GONE",
          "TASK_GONE_BY_OPERATOR",
          "TASK_UNKNOWN");

  /** Mesos's isTerminalState (src/common/protobuf_utils.cpp). */
  private static final Set<String> MESOS_TERMINAL =
      Set.of(
          "TASK_FINISHED",
          "TASK_FAILED",
          "TASK_KILLED",
          "TASK_ERROR",
          "TASK_LOST",
          "TASK_DROPPED",
          "TASK_GONE",
          "TASK_GONE_BY_OPERATOR");

  @Test
  void everyMesosTaskStateExistsAndNoOther() {
    assertThat(TaskState.forNumber(0)).isEqualTo(TaskState.TASK_STATE_UNSPECIFIED);
    assertThat(knownStates().stream().map(Enum::name).collect(Collectors.toSet()))
        .isEqualTo(MESOS_STATES);
  }

  @Test
  void terminalStatesAreMesossTerminalStates() {
    assertThat(
            knownStates().stream()
                .filter(TaskStates::isTerminal)
                .map(Enum::name)
                .collect(Collectors.toSet()))
        .isEqualTo(MESOS_TERMINAL);
    assertThat(TaskStates.isTerminal(TaskState.TASK_STATE_UNSPECIFIED)).isFalse();
    assertThat(TaskStates.isTerminal(TaskState.UNRECOGNIZED)).isFalse();
  }

  @Test
  void taskStatusRoundTripsWithUuidAndExitCode() throws Exception {
    UUID uuid = UUID.randomUUID();
    TaskStatus status =
        TaskStatus.newBuilder()
            .setTaskId("t-1")
            .setAgentId("a-1")
            .setFrameworkId("f-1")
            .setState(TaskState.TASK_FINISHED)
            .setReason(TaskStatus.Reason.REASON_COMMAND_EXITED)
            .setSource(TaskStatus.Source.SOURCE_EXECUTOR)
            .setUuid(bytes(uuid))
            .setTimestamp(Timestamp.newBuilder().setSeconds(1_700_000_000L).setNanos(5))
            .setExitCode(0)
            .build();

    TaskStatus back = TaskStatus.parseFrom(status.toByteArray());

    assertThat(back).isEqualTo(status);
    assertThat(back.getUuid().size()).isEqualTo(16);
    assertThat(uuid(back.getUuid())).isEqualTo(uuid);
    // An exit code of 0 is a fact, not the absence of one.
    assertThat(back.hasExitCode()).isTrue();
    assertThat(back.getExitCode()).isZero();

    TaskStatus reconciliation =
        TaskStatus.parseFrom(status.toBuilder().clearUuid().clearExitCode().build().toByteArray());
    assertThat(reconciliation.getUuid().isEmpty()).isTrue();
    assertThat(reconciliation.hasExitCode()).isFalse();
  }

  @Test
  void aCommandRunsThroughTheShellUnlessTheSenderSaysNo() throws Exception {
    // Mesos's default: `shell` unset means true, so its presence must survive the wire.
    CommandInfo unset =
        CommandInfo.parseFrom(CommandInfo.newBuilder().setValue("echo hi").build().toByteArray());
    assertThat(unset.hasShell()).isFalse();
    CommandInfo argv =
        CommandInfo.parseFrom(
            CommandInfo.newBuilder().setShell(false).setValue("true").build().toByteArray());
    assertThat(argv.hasShell()).isTrue();
    assertThat(argv.getShell()).isFalse();
  }

  @Test
  void schedulerServiceHasExactlyItsCalls() {
    assertThat(methods(SchedulerGrpc.getServiceDescriptor()))
        .isEqualTo(
            Map.of(
                "Subscribe", MethodType.SERVER_STREAMING,
                "Accept", MethodType.UNARY,
                "Decline", MethodType.UNARY,
                "Kill", MethodType.UNARY,
                "Acknowledge", MethodType.UNARY,
                "Reconcile", MethodType.UNARY,
                "Suppress", MethodType.UNARY,
                "Revive", MethodType.UNARY,
                "Teardown", MethodType.UNARY));
  }

  @Test
  void everySchedulerCallNamesItsFrameworkAndSubscription() {
    for (MethodDescriptor method :
        SchedulerProto.getDescriptor().findServiceByName("Scheduler").getMethods()) {
      if (method.isServerStreaming()) {
        continue; // Subscribe: the subscription does not exist yet
      }
      Descriptor request = method.getInputType();
      assertThat(stringField(request, "framework_id")).as(request.getName()).isEqualTo(1);
      assertThat(stringField(request, "stream_id")).as(request.getName()).isEqualTo(2);
    }
  }

  @Test
  void agentSessionIsOneBidirectionalStream() {
    assertThat(methods(AgentSessionGrpc.getServiceDescriptor()))
        .isEqualTo(Map.of("Connect", MethodType.BIDI_STREAMING));
  }

  @Test
  void operatorServiceAnswersState() {
    assertThat(methods(OperatorGrpc.getServiceDescriptor()))
        .isEqualTo(Map.of("GetState", MethodType.UNARY));
  }

  @Test
  void streamsCarryTheirMessageKinds() {
    assertThat(oneofFields(Event.getDescriptor()))
        .isEqualTo(
            Set.of("subscribed", "offers", "rescind", "update", "failure", "error", "heartbeat"));
    assertThat(oneofFields(AgentMessage.getDescriptor()))
        .isEqualTo(Set.of("register", "reregister", "status_update", "ping", "pong"));
    assertThat(oneofFields(MasterMessage.getDescriptor()))
        .isEqualTo(
            Set.of(
                "registered",
                "reregistered",
                "run_task",
                "kill_task",
                "shutdown_framework",
                "acknowledgement",
                "ping",
                "pong",
                "refused"));
  }

  private static Set<TaskState> knownStates() {
    return Arrays.stream(TaskState.values())
        .filter(s -> s != TaskState.UNRECOGNIZED && s != TaskState.TASK_STATE_UNSPECIFIED)
        .collect(Collectors.toSet());
  }

  private static Map<String, MethodType> methods(ServiceDescriptor service) {
    return service.getMethods().stream()
        .collect(
            Collectors.toMap(
                io.grpc.MethodDescriptor::getBareMethodName, io.grpc.MethodDescriptor::getType));
  }

  /** The number of the string field {@code name}, or -1 if there is no such string field. */
  private static int stringField(Descriptor message, String name) {
    FieldDescriptor field = message.findFieldByName(name);
    return field != null && field.getType() == FieldDescriptor.Type.STRING && !field.isRepeated()
        ? field.getNumber()
        : -1;
  }

  private static Set<String> oneofFields(Descriptor message) {
    assertThat(message.getRealOneofs()).hasSize(1);
    assertThat(message.getFields()).hasSize(message.getRealOneofs().get(0).getFieldCount());
    return message.getRealOneofs().get(0).getFields().stream()
        .map(FieldDescriptor::getName)
        .collect(Collectors.toSet());
  }

  private static ByteString bytes(UUID uuid) {
    return ByteString.copyFrom(
        ByteBuffer.allocate(16)
            .putLong(uuid.getMostSignificantBits())
            .putLong(uuid.getLeastSignificantBits())
            .array());
  }

  private static UUID uuid(ByteString bytes) {
    ByteBuffer buffer = bytes.asReadOnlyByteBuffer();
    return new UUID(buffer.getLong(), buffer.getLong());
  }
}
