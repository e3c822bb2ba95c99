package io.kmesos.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import com.google.protobuf.Duration;
import com.google.protobuf.Timestamp;
import io.kmesos.api.registry.v1.AddFramework;
import io.kmesos.api.registry.v1.Framework;
import io.kmesos.api.registry.v1.Operation;
import io.kmesos.api.registry.v1.Registry;
import io.kmesos.api.registry.v1.RemoveFramework;
import io.kmesos.api.registry.v1.UpdateFramework;
import io.kmesos.api.v1.FrameworkInfo;
import io.kmesos.replica.state.State;
import java.util.List;
import org.junit.jupiter.api.Test;

/** AddFramework, UpdateFramework and RemoveFramework on an in-memory registry. */
class FrameworkOperationsTest {
  final OperationsTest registry = new OperationsTest();

  static Framework framework(String id) {
    return Framework.newBuilder()
        .setInfo(
            FrameworkInfo.newBuilder()
                .setId(id)
                .setName("web")
                .addRoles("web")
                .setFailoverTimeout(Duration.newBuilder().setSeconds(3600))
                .setCheckpoint(true)
                .setPrincipal("spiffe://kmesos/framework"))
        .setRegisteredAt(Timestamp.newBuilder().setSeconds(1000))
        .build();
  }

  static Operation add(Framework f) {
    return Operation.newBuilder()
        .setAddFramework(AddFramework.newBuilder().setFramework(f))
        .build();
  }

  static Operation update(Framework f) {
    return Operation.newBuilder()
        .setUpdateFramework(UpdateFramework.newBuilder().setFramework(f))
        .build();
  }

  static Operation remove(String id) {
    return Operation.newBuilder()
        .setRemoveFramework(RemoveFramework.newBuilder().setId(id))
        .build();
  }

  @Test
  void aFrameworkIsAddedOnceUpdatedAndRemoved() {
    assertThat(registry.apply(add(framework("m1-0000")))).isTrue();
    assertThat(registry.show().getFrameworksList()).containsExactly(framework("m1-0000"));
    assertThat(registry.registry.get(Names.framework("m1-0000"))).isEqualTo(framework("m1-0000"));
    assertThatThrownBy(() -> registry.apply(add(framework("m1-0000"))))
        .isInstanceOf(OperationRefusedException.class)
        .hasMessage(
            "add_framework.framework.info.id: framework m1-0000 is already registered;"
                + " a framework ID is never added twice");

    // Its subscription ended: the master records when, once.
    Framework disconnected =
        framework("m1-0000").toBuilder()
            .setDisconnectedAt(Timestamp.newBuilder().setSeconds(2000))
            .build();
    assertThat(registry.apply(update(disconnected))).isTrue();
    assertThat(registry.apply(update(disconnected))).as("nothing changed: a no-op").isFalse();
    assertThat(registry.show().getFrameworks(0).getDisconnectedAt().getSeconds()).isEqualTo(2000);

    assertThat(registry.apply(remove("m1-0000"))).isTrue();
    assertThat(registry.show().getFrameworksList()).isEmpty();
  }

  @Test
  void updatingOrRemovingAnUnknownFrameworkIsRefused() {
    assertThatThrownBy(() -> registry.apply(update(framework("nobody"))))
        .isInstanceOf(OperationRefusedException.class)
        .hasMessage("update_framework.framework.info.id: no framework 'nobody' is registered");
    assertThatThrownBy(() -> registry.apply(remove("nobody")))
        .isInstanceOf(OperationRefusedException.class)
        .hasMessage("remove_framework.id: no framework 'nobody' is registered");
    assertThatThrownBy(() -> registry.apply(remove("")))
        .hasMessage("remove_framework.id: no framework '' is registered");
    // A removed framework is forgotten: removing it again is refused too.
    registry.apply(add(framework("f1")));
    registry.apply(remove("f1"));
    assertThatThrownBy(() -> registry.apply(remove("f1")))
        .hasMessage("remove_framework.id: no framework 'f1' is registered");
  }

  @Test
  void malformedFrameworksAreRefusedNamingTheField() {
    Framework f = framework("f1");
    assertThatThrownBy(() -> registry.apply(add(f.toBuilder().clearInfo().build())))
        .hasMessage("add_framework.framework.info is required");
    assertThatThrownBy(
            () ->
                registry.apply(
                    add(f.toBuilder().setInfo(f.getInfo().toBuilder().setId(" ")).build())))
        .hasMessage("add_framework.framework.info.id must not be empty");
    assertThatThrownBy(
            () ->
                registry.apply(
                    update(f.toBuilder().setInfo(f.getInfo().toBuilder().setId("a/b")).build())))
        .hasMessage("update_framework.framework.info.id 'a/b' may not hold '/' or be '.' or '..'");
    assertThatThrownBy(
            () ->
                registry.apply(
                    add(f.toBuilder().setInfo(f.getInfo().toBuilder().addRoles("web")).build())))
        .hasMessage("add_framework.framework.info.roles[1]: role 'web' appears twice");
    assertThatThrownBy(
            () ->
                registry.apply(
                    add(f.toBuilder().setInfo(f.getInfo().toBuilder().addRoles("-x")).build())))
        .hasMessageContaining("add_framework.framework.info.roles[1] '-x'");
    assertThatThrownBy(
            () ->
                registry.apply(
                    add(
                        f.toBuilder()
                            .setInfo(
                                f.getInfo().toBuilder()
                                    .setFailoverTimeout(Duration.newBuilder().setSeconds(-1)))
                            .build())))
        .hasMessage("add_framework.framework.info.failover_timeout must not be negative");
    assertThatThrownBy(() -> registry.apply(add(f.toBuilder().clearRegisteredAt().build())))
        .hasMessage("add_framework.framework.registered_at is required");
    // The default role is a framework's role like any other.
    assertThat(
            registry.apply(
                add(
                    f.toBuilder()
                        .setInfo(f.getInfo().toBuilder().clearRoles().addRoles("*"))
                        .build())))
        .isTrue();
    assertThat(registry.show().getFrameworksList()).hasSize(1);
  }

  @Test
  void frameworksSurviveTheWholeRegistryFormAndAreDecodedFromTheirVariables() {
    registry.apply(add(framework("f1")));
    registry.apply(add(framework("f2")));
    Registry whole = registry.show();
    assertThat(RegistryContents.of(whole).toProto()).isEqualTo(whole);

    List<State.Variable> variables =
        registry.registry.withPrefix(Names.FRAMEWORKS).entrySet().stream()
            .map(e -> new State.Variable(e.getKey(), 1, Any.pack(e.getValue())))
            .toList();
    assertThat(RegistryContents.of(variables, 2).toProto().getFrameworksList())
        .containsExactly(framework("f1"), framework("f2"));
  }
}
