package io.kmesos.api.tls;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Locale;

/**
 * Who a certificate speaks for: the kind of kmesos component, carried as a URI subject alternative
 * name {@code spiffe://kmesos/<component>} (the SPIFFE ID shape, so a SPIFFE-aware mesh or
 * cert-manager's csi-driver-spiffe can issue the same certificates). One identity per component
 * kind, not per pod: replicas are interchangeable to their clients, and a pod's address is already
 * checked by the network policies.
 */
public enum Identity {
  /** A replica of the log: serves the log and calls the other replicas. */
  REPLICA,
  /** A controller: reads and writes the log (the master is its only writer). */
  CONTROLLER,
  /** An operator's tool (kmesos-log, kmesos-registry) run by hand or by a Job. */
  ADMIN,
  /** An agent (node daemon): its session with the master (AgentSession on the master's port). */
  AGENT,
  /**
   * Not issued: frameworks authenticate to the master with a ServiceAccount token over server-side
   * TLS (docs/frameworks.md). Kept so that such a certificate is recognised, and refused, by name.
   */
  FRAMEWORK;

  public static final String PREFIX = "spiffe://kmesos/";

  /** {@code spiffe://kmesos/replica}. */
  public String uri() {
    return PREFIX + name().toLowerCase(Locale.ROOT);
  }

  /** The short name used on command lines and in Secret names: {@code replica}. */
  public String component() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The identity named {@code component} (e.g. "replica"), or a one-line error that lists them. */
  public static Identity ofComponent(String component) {
    for (Identity i : values()) {
      if (i.component().equals(component.trim().toLowerCase(Locale.ROOT))) {
        return i;
      }
    }
    throw new IllegalArgumentException(
        "'"
            + component
            + "' is not a kmesos component; use one of "
            + String.join(", ", Arrays.stream(values()).map(Identity::component).toList()));
  }

  /** Every URI subject alternative name of {@code cert} (the kmesos ones and any other). */
  public static List<String> uris(X509Certificate cert) {
    List<String> uris = new ArrayList<>();
    try {
      Collection<List<?>> names = cert.getSubjectAlternativeNames();
      if (names != null) {
        for (List<?> name : names) {
          if (name.size() >= 2
              && Integer.valueOf(6).equals(name.get(0))) { // 6: uniformResourceIdentifier
            uris.add(String.valueOf(name.get(1)));
          }
        }
      }
    } catch (CertificateParsingException e) {
      // An unparseable extension carries no identity.
    }
    return uris;
  }

  /** The kmesos identities {@code cert} carries (normally one). */
  public static List<Identity> of(X509Certificate cert) {
    List<Identity> found = new ArrayList<>();
    for (String uri : uris(cert)) {
      for (Identity i : values()) {
        if (i.uri().equals(uri)) {
          found.add(i);
        }
      }
    }
    return found;
  }

  /** How a certificate is named in an error: its subject and its URIs. */
  static String describe(X509Certificate cert) {
    List<String> uris = uris(cert);
    return "'"
        + cert.getSubjectX500Principal().getName()
        + "'"
        + (uris.isEmpty() ? " (no URI names)" : " (URI names " + String.join(", ", uris) + ")");
  }
}
