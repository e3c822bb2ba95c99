package io.kmesos.framework;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The resource syntax, on the same examples as the master's Resources.parse. */
class ResourceTextTest {
  @Test
  void parsesAndFormatsTheMesosExecuteSyntax() {
    assertThat(
            ResourceText.format(
                ResourceText.parse("mem:128; cpus:0.5 ;ports:[31010-31010,31000-31005]")))
        .isEqualTo("cpus:0.5;mem:128;ports:[31000-31005,31010-31010]");
    assertThat(ResourceText.format(ResourceText.parse("cpus:0.1;cpus:0.2;ports:[1-2,3-4]")))
        .isEqualTo("cpus:0.3;ports:[1-4]");
    assertThat(ResourceText.format(ResourceText.parse("cpus:0.0004;mem:0"))).isEmpty();
    assertThat(ResourceText.parse("")).isEmpty();
  }

  @Test
  void refusesWhatTheMasterRefuses() {
    assertThatThrownBy(() -> ResourceText.parse("cpus"))
        .hasMessage("invalid resources 'cpus': 'cpus': expected name:value");
    assertThatThrownBy(() -> ResourceText.parse("cpus(web):1"))
        .hasMessageEndingWith("reservations (name(role):value) are not supported");
    assertThatThrownBy(() -> ResourceText.parse("mem:-1")).hasMessageEndingWith("'-1' is negative");
    assertThatThrownBy(() -> ResourceText.parse("ports:[5-1]"))
        .hasMessageEndingWith("range '5-1' ends before it begins");
    assertThatThrownBy(() -> ResourceText.parse("ports:{a,b}"))
        .hasMessageEndingWith("set values ({a,b}) are not supported");
  }

  @Test
  void containsComparesScalarsAndRanges() {
    var offered = ResourceText.parse("cpus:1;mem:1024;ports:[31000-32000]");
    assertThat(ResourceText.contains(offered, ResourceText.parse("cpus:1;mem:32"))).isTrue();
    assertThat(ResourceText.contains(offered, ResourceText.parse("cpus:1.001"))).isFalse();
    assertThat(ResourceText.contains(offered, ResourceText.parse("ports:[31000-31001]"))).isTrue();
    assertThat(ResourceText.contains(offered, ResourceText.parse("ports:[80-80]"))).isFalse();
    assertThat(ResourceText.contains(offered, ResourceText.parse("gpus:1"))).isFalse();
  }

  @Test
  void masterAddresses() {
    assertThat(MasterAddresses.parse(" a:1, b:2 ,a:1")).containsExactly("a:1", "b:2");
    assertThatThrownBy(() -> MasterAddresses.parse("a"))
        .hasMessage("master address 'a' is not host:port (e.g. 127.0.0.1:5050)");
    assertThatThrownBy(() -> MasterAddresses.parse("a:99999"))
        .hasMessage("master address 'a:99999' has no valid port (1..65535) after ':'");
  }
}
