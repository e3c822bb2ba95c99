package io.kmesos.api.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issuing into a certificate directory: what is created, kept, and issued again, and when. */
class ClusterCertificatesTest {
  @TempDir Path dir;

  static final Instant NOW = Instant.parse("2026-12-01T00:00:00Z");

  static ClusterCertificates.Settings settings(Map<Identity, List<String>> hosts, boolean renew) {
    return new ClusterCertificates.Settings(
        List.of(Identity.REPLICA, Identity.ADMIN),
        hosts,
        Duration.ofDays(3650),
        Duration.ofDays(30),
        renew);
  }

  X509Certificate cert(CertificateDirectory store, Identity i) throws Exception {
    return Pem.certificates(Files.readString(store.dir(i).resolve("tls.crt"))).get(0);
  }

  @Test
  void createsOnceKeepsWhileGoodAndRenewsInTheLastThird() throws Exception {
    CertificateDirectory store = new CertificateDirectory(dir);
    Map<Identity, List<String>> hosts =
        Map.of(Identity.REPLICA, List.of("127.0.0.1", "kmesos-replica-0.kmesos-replica"));
    List<String> first = ClusterCertificates.ensure(store, settings(hosts, false), NOW);
    assertThat(first).hasSize(3);
    assertThat(first.get(0))
        .isEqualTo("created CA in " + dir.resolve("ca") + " (valid until 2036-11-28T00:00:00Z)");
    assertThat(first.get(1))
        .isEqualTo(
            "issued replica certificate in "
                + dir.resolve("replica")
                + " (none yet; valid until 2026-12-31T00:00:00Z)");
    X509Certificate replica = cert(store, Identity.REPLICA);
    assertThat(Identity.of(replica)).containsExactly(Identity.REPLICA);
    assertThat(replica.getSubjectAlternativeNames())
        .extracting(n -> (Object) n.get(1))
        .containsExactlyInAnyOrder(
            "spiffe://kmesos/replica", "127.0.0.1", "kmesos-replica-0.kmesos-replica");
    assertThat(replica.getNotBefore().toInstant()).isEqualTo(NOW.minus(Duration.ofMinutes(1)));
    assertThat(Files.readString(store.dir(Identity.REPLICA).resolve("ca.crt")))
        .isEqualTo(Pem.of(Pem.certificates(store.readCa().certificatePem()).get(0)));

    // 19 days on: more than a third of the 30 days left, everything kept.
    assertThat(
            ClusterCertificates.ensure(
                store, settings(hosts, false), NOW.plus(Duration.ofDays(19))))
        .allMatch(l -> l.startsWith("kept "));
    assertThat(cert(store, Identity.REPLICA)).isEqualTo(replica);

    // 21 days on: less than a third left, issued again by the same CA.
    Instant later = NOW.plus(Duration.ofDays(21));
    List<String> renewed = ClusterCertificates.ensure(store, settings(hosts, false), later);
    assertThat(renewed.get(0)).startsWith("kept CA");
    assertThat(renewed.get(1))
        .isEqualTo(
            "issued replica certificate in "
                + dir.resolve("replica")
                + " (it is in the last third of its life; valid until 2027-01-21T00:00:00Z)");
    assertThat(cert(store, Identity.REPLICA).getSerialNumber())
        .isNotEqualTo(replica.getSerialNumber());
  }

  @Test
  void reissuesWhatNoLongerFitsTheCaOrTheSettings() throws Exception {
    CertificateDirectory store = new CertificateDirectory(dir);
    ClusterCertificates.ensure(store, settings(Map.of(), false), NOW);
    // Hosts added: only the replica's is issued again.
    List<String> hosts =
        ClusterCertificates.ensure(
            store, settings(Map.of(Identity.REPLICA, List.of("localhost")), false), NOW);
    assertThat(hosts.get(1)).contains("(its hosts changed;");
    assertThat(hosts.get(2)).startsWith("kept admin");
    // Another CA's certificate in place of the admin's.
    CertificateAuthority other = CertificateAuthority.create("other", NOW, Duration.ofDays(10));
    CertificateAuthority.Issued foreign =
        other.issue(
            CertificateAuthority.Request.of(Identity.ADMIN, List.of(), NOW, Duration.ofDays(5)));
    store.write(
        Identity.ADMIN,
        store.readCa().certificatePem(),
        new ClusterCertificates.Material(foreign.certificatePem(), foreign.keyPem()));
    assertThat(
            ClusterCertificates.ensure(
                    store, settings(Map.of(Identity.REPLICA, List.of("localhost")), false), NOW)
                .get(2))
        .contains("(the stored one is another CA's;");
    // --renew: all issued anew, the CA kept.
    String ca = store.readCa().certificatePem();
    assertThat(ClusterCertificates.ensure(store, settings(Map.of(), true), NOW))
        .filteredOn(l -> l.startsWith("issued"))
        .hasSize(2)
        .allMatch(l -> l.contains("(renewal asked for;"));
    assertThat(store.readCa().certificatePem()).isEqualTo(ca);
  }

  @Test
  void settingsThatCannotWorkAreRefused() {
    assertThatThrownBy(
            () ->
                new ClusterCertificates.Settings(
                    List.of(), Map.of(), Duration.ofDays(3650), Duration.ofDays(30), false))
        .hasMessage("name at least one component to issue a certificate for");
    assertThatThrownBy(
            () ->
                new ClusterCertificates.Settings(
                    List.of(Identity.ADMIN),
                    Map.of(),
                    Duration.ofDays(1),
                    Duration.ofDays(30),
                    false))
        .hasMessage("the CA (24h) must outlive the certificates it issues (720h)");
  }

  @Test
  void aLoadedCertificateMustBeUsable() throws Exception {
    CertificateDirectory store = new CertificateDirectory(dir);
    ClusterCertificates.ensure(store, settings(Map.of(), false), NOW.minus(Duration.ofDays(60)));
    assertThatThrownBy(() -> MutualTls.load(store.settings(Identity.ADMIN)))
        .hasMessageStartingWith(
            "TLS: the certificate in "
                + store.dir(Identity.ADMIN).resolve("tls.crt")
                + " expired at ");
    ClusterCertificates.ensure(store, settings(Map.of(), true), Instant.now());
    Files.copy(
        store.dir(Identity.REPLICA).resolve("tls.key"),
        store.dir(Identity.ADMIN).resolve("tls.key"),
        StandardCopyOption.REPLACE_EXISTING);
    assertThatThrownBy(() -> MutualTls.load(store.settings(Identity.ADMIN)))
        .hasMessage(
            "TLS: the private key in "
                + store.dir(Identity.ADMIN).resolve("tls.key")
                + " is not the key of the certificate in "
                + store.dir(Identity.ADMIN).resolve("tls.crt"));
    assertThatThrownBy(() -> TlsSettings.fromDirectory(dir.resolve("nowhere")))
        .hasMessage(
            "TLS: "
                + dir.resolve("nowhere")
                + " is not a directory (it must hold ca.crt, tls.crt and tls.key)");
    Files.delete(store.dir(Identity.ADMIN).resolve("ca.crt"));
    assertThatThrownBy(() -> TlsSettings.fromDirectory(store.dir(Identity.ADMIN)))
        .hasMessage(
            "TLS: cannot read " + store.dir(Identity.ADMIN).resolve("ca.crt") + ": no such file");
  }
}
