package io.kmesos.controller.master;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kmesos.controller.master.MasterEndpoints.Address;
import org.junit.jupiter.api.Test;

/** Which address type an EndpointSlice gets for the address a leader publishes. */
class MasterEndpointsAddressTest {
  @Test
  void ipv4LiteralsAreIpv4() {
    assertThat(Address.parse("10.0.0.1")).isEqualTo(new Address("IPv4", "10.0.0.1"));
    assertThat(Address.parse(" 127.0.0.1 ")).isEqualTo(new Address("IPv4", "127.0.0.1"));
  }

  @Test
  void ipv6LiteralsAreIpv6InCanonicalForm() {
    assertThat(Address.parse("[FD00:0000:0:0::0005]")).isEqualTo(new Address("IPv6", "fd00::5"));
    assertThat(Address.parse("2001:db8:0:0:1:0:0:1"))
        .as("the first of two equal runs of zeros is compressed")
        .isEqualTo(new Address("IPv6", "2001:db8::1:0:0:1"));
    assertThat(Address.parse("2001:db8:0:1:1:1:1:1"))
        .as("a single zero group is not compressed")
        .isEqualTo(new Address("IPv6", "2001:db8:0:1:1:1:1:1"));
    assertThat(Address.parse("::1")).isEqualTo(new Address("IPv6", "::1"));
  }

  @Test
  void namesAreFqdnsInLowerCase() {
    assertThat(Address.parse("Master-0.Example.org."))
        .isEqualTo(new Address("FQDN", "master-0.example.org"));
    assertThat(Address.parse("localhost")).isEqualTo(new Address("FQDN", "localhost"));
  }

  @Test
  void unpublishableAddressesAreRefused() {
    assertThatThrownBy(() -> Address.parse("0.0.0.0")).hasMessageContaining("wildcard");
    assertThatThrownBy(() -> Address.parse("[::]")).hasMessageContaining("wildcard");
    assertThatThrownBy(() -> Address.parse("")).hasMessageContaining("must not be empty");
    assertThatThrownBy(() -> Address.parse("a_b.example")).hasMessageContaining("neither");
    assertThatThrownBy(() -> Address.parse("fd00::zz")).hasMessageContaining("not an IPv6");
    assertThatThrownBy(() -> Address.parse("::ffff:10.0.0.1")).hasMessageContaining("dotted form");
  }
}
