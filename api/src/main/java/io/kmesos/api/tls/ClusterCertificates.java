package io.kmesos.api.tls;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Makes a store (a directory tree or Kubernetes Secrets) hold a CA and a valid certificate for each
 * component, changing only what must change: a CA that exists is kept (re-running an install Job
 * must not cut the cluster off its CA), and a component's certificate is issued again only if it is
 * missing, unreadable, not the current CA's, without its identity or hosts, or in the last third of
 * its life (so a daily run renews certificates of 30 days well before they expire).
 */
public final class ClusterCertificates {
  private ClusterCertificates() {}

  /** A certificate chain and private key as PEM text. */
  public record Material(String certificatePem, String keyPem) {}

  /** Where the CA and the components' certificates live. */
  public interface Store {
    /** The CA's certificate and key; null if there is none yet. */
    Material readCa();

    /** Stores a new CA unless one appeared meanwhile; returns the CA now stored. */
    Material createCa(Material ca);

    /** The component's certificate and key; null if there are none. */
    Material read(Identity component);

    /**
     * The CA certificate(s) stored beside the component's certificate (what it trusts); null if
     * none.
     */
    String readTrust(Identity component);

    /** Stores a component's certificate, key and the CA certificate it is to trust. */
    void write(Identity component, String caPem, Material issued);

    /** Where a component's certificate is, as a user finds it (a path, a Secret's name). */
    String where(Identity component);

    /** Where the CA is. */
    String whereCa();
  }

  /**
   * What to issue: the components, the host names and addresses each is reached at (may be empty),
   * how long a new CA and a new certificate are valid, and whether to issue every certificate anew.
   */
  public record Settings(
      List<Identity> components,
      Map<Identity, List<String>> hosts,
      Duration caValidity,
      Duration validity,
      boolean renew) {
    public static final Duration DEFAULT_CA_VALIDITY = Duration.ofDays(3650);
    public static final Duration DEFAULT_VALIDITY = Duration.ofDays(30);

    public Settings {
      components = List.copyOf(components);
      hosts = Map.copyOf(hosts);
      if (components.isEmpty()) {
        throw new IllegalArgumentException(
            "name at least one component to issue a certificate for");
      }
      if (validity.compareTo(Duration.ofHours(1)) < 0) {
        throw new IllegalArgumentException(
            "a certificate must be valid for at least 1 hour, not " + validity);
      }
      if (caValidity.compareTo(validity) <= 0) {
        throw new IllegalArgumentException(
            "the CA ("
                + caValidity.toHours()
                + "h) must outlive the certificates it issues ("
                + validity.toHours()
                + "h)");
      }
    }
  }

  /**
   * Brings {@code store} to {@code settings} at {@code now}; returns one line per thing it created,
   * issued or kept.
   */
  public static List<String> ensure(Store store, Settings settings, Instant now) {
    List<String> report = new ArrayList<>();
    Material stored = store.readCa();
    CertificateAuthority ca;
    if (stored == null) {
      CertificateAuthority created =
          CertificateAuthority.create("kmesos CA", now, settings.caValidity());
      stored =
          store.createCa(
              new Material(created.issued().certificatePem(), created.issued().keyPem()));
      if (stored == null) {
        throw new IllegalArgumentException(
            store.whereCa() + " exists but holds no CA certificate and key (tls.crt, tls.key)");
      }
      ca = load(stored, store.whereCa());
      report.add(
          ca.certificate().equals(created.certificate())
              ? "created CA in "
                  + store.whereCa()
                  + " (valid until "
                  + until(ca.certificate())
                  + ")"
              : "kept the CA in " + store.whereCa() + " that another run created meanwhile");
    } else {
      ca = load(stored, store.whereCa());
      report.add(
          "kept CA in " + store.whereCa() + " (valid until " + until(ca.certificate()) + ")");
    }
    if (ca.certificate().getNotAfter().toInstant().isBefore(now.plus(settings.validity()))) {
      report.add(
          "warning: the CA expires at "
              + until(ca.certificate())
              + ", before certificates issued now would;"
              + " see docs/security.md (rotating the CA)");
    }
    String caPem = Pem.of(ca.certificate());
    for (Identity component : settings.components()) {
      List<String> hosts = settings.hosts().getOrDefault(component, List.of());
      String why =
          settings.renew()
              ? "renewal asked for"
              : whyIssue(
                  store.read(component), store.readTrust(component), ca, component, hosts, now);
      if (why == null) {
        X509Certificate kept = Pem.certificates(store.read(component).certificatePem()).get(0);
        report.add(
            "kept "
                + component.component()
                + " certificate in "
                + store.where(component)
                + " (valid until "
                + until(kept)
                + ")");
        continue;
      }
      CertificateAuthority.Issued issued =
          ca.issue(CertificateAuthority.Request.of(component, hosts, now, settings.validity()));
      store.write(component, caPem, new Material(issued.certificatePem(), issued.keyPem()));
      report.add(
          "issued "
              + component.component()
              + " certificate in "
              + store.where(component)
              + " ("
              + why
              + "; valid until "
              + until(issued.certificate())
              + ")");
    }
    return report;
  }

  private static CertificateAuthority load(Material ca, String where) {
    try {
      return CertificateAuthority.load(ca.certificatePem(), ca.keyPem());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("the CA in " + where + " is unusable: " + e.getMessage());
    }
  }

  /** Why the stored certificate must be issued again; null if it is good. */
  static String whyIssue(
      Material existing,
      String trust,
      CertificateAuthority ca,
      Identity component,
      List<String> hosts,
      Instant now) {
    if (existing == null) {
      return "none yet";
    }
    X509Certificate cert;
    try {
      cert = Pem.certificates(existing.certificatePem()).get(0);
      Pem.privateKey(existing.keyPem());
    } catch (IllegalArgumentException e) {
      return "the stored one is unreadable";
    }
    if (trust == null || !trusts(trust, ca)) {
      return "it does not trust the current CA";
    }
    if (!ca.signed(cert)) {
      return "the stored one is another CA's";
    }
    if (!Identity.of(cert).contains(component)) {
      return "the stored one lacks the identity " + component.uri();
    }
    if (!new HashSet<>(names(cert)).equals(new HashSet<>(hosts))) {
      return "its hosts changed";
    }
    Instant start = cert.getNotBefore().toInstant();
    Instant end = cert.getNotAfter().toInstant();
    if (!now.isBefore(end.minus(Duration.between(start, end).dividedBy(3)))) {
      return now.isBefore(end) ? "it is in the last third of its life" : "it expired";
    }
    return null;
  }

  private static boolean trusts(String trustPem, CertificateAuthority ca) {
    try {
      return Pem.certificates(trustPem).contains(ca.certificate());
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /** The DNS names and IP addresses of {@code cert}. */
  private static Set<String> names(X509Certificate cert) {
    Set<String> names = new HashSet<>();
    try {
      if (cert.getSubjectAlternativeNames() != null) {
        for (List<?> name : cert.getSubjectAlternativeNames()) {
          if (Integer.valueOf(2).equals(name.get(0)) || Integer.valueOf(7).equals(name.get(0))) {
            names.add(String.valueOf(name.get(1)));
          }
        }
      }
    } catch (CertificateParsingException e) {
      // no names
    }
    return names;
  }

  private static String until(X509Certificate cert) {
    return cert.getNotAfter().toInstant().toString();
  }
}
