package io.kmesos.api.resources;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kmesos.api.v1.Resource;
import java.util.List;
import org.junit.jupiter.api.Test;

class ResourceProtosTest {
  @Test
  void roundTrips() {
    Resources r = Resources.parse("cpus:0.5;mem:128;ports:[31000-31005,31010-31010]");
    List<Resource> protos = ResourceProtos.write(r);
    assertThat(protos).extracting(Resource::getName).containsExactly("cpus", "mem", "ports");
    assertThat(protos.get(0).getScalar()).isEqualTo(0.5);
    assertThat(ResourceProtos.read(protos)).isEqualTo(r);
    assertThat(ResourceProtos.write(Resources.EMPTY)).isEmpty();
  }

  @Test
  void refusesWhatTheContractForbids() {
    Resource cpus = Resource.newBuilder().setName("cpus").setScalar(1).build();
    assertThatThrownBy(() -> ResourceProtos.read(List.of(cpus, cpus)))
        .hasMessage("resource 'cpus' is named twice");
    assertThatThrownBy(
            () -> ResourceProtos.read(List.of(Resource.newBuilder().setName("mem").build())))
        .hasMessage("resource 'mem' has no value");
    assertThatThrownBy(
            () ->
                ResourceProtos.read(
                    List.of(Resource.newBuilder().setName("cpus").setScalar(-1).build())))
        .hasMessageContaining("'cpus'")
        .hasMessageContaining("non-negative");
  }
}
