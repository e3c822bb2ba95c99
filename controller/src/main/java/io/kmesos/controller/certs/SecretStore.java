package io.kmesos.controller.certs;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.kmesos.api.tls.ClusterCertificates;
import io.kmesos.api.tls.Identity;
import io.kmesos.api.tls.TlsSettings;
import java.net.HttpURLConnection;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The CA and the certificates as Kubernetes Secrets of type {@code kubernetes.io/tls}: {@value
 * #CA_SECRET} (the CA: tls.crt, tls.key, and ca.crt; also usable as a cert-manager CA Issuer's
 * Secret) and {@code kmesos-<component>-tls} (ca.crt, tls.crt, tls.key: mounted as the component's
 * --tls-dir). Writes are create-if-absent or update-at-the-version-read, so two runs at once cannot
 * both make a CA: the second finds the first's.
 */
final class SecretStore implements ClusterCertificates.Store {
  static final String CA_SECRET = "kmesos-ca";

  private final KubernetesClient client;
  private final String namespace;

  SecretStore(KubernetesClient client, String namespace) {
    this.client = client;
    this.namespace = namespace;
  }

  static String secretName(Identity component) {
    return "kmesos-" + component.component() + "-tls";
  }

  @Override
  public ClusterCertificates.Material readCa() {
    return material(get(CA_SECRET));
  }

  @Override
  public ClusterCertificates.Material createCa(ClusterCertificates.Material ca) {
    Secret secret = secret(CA_SECRET, ca.certificatePem(), ca);
    try {
      client.secrets().inNamespace(namespace).resource(secret).create();
      return ca;
    } catch (KubernetesClientException e) {
      if (e.getCode() == HttpURLConnection.HTTP_CONFLICT) {
        return readCa(); // another run created it first: use that one
      }
      throw e;
    }
  }

  @Override
  public ClusterCertificates.Material read(Identity component) {
    return material(get(secretName(component)));
  }

  @Override
  public String readTrust(Identity component) {
    Secret s = get(secretName(component));
    return s == null ? null : decode(s, TlsSettings.CA_FILE);
  }

  @Override
  public void write(Identity component, String caPem, ClusterCertificates.Material issued) {
    Secret wanted = secret(secretName(component), caPem, issued);
    Secret existing = get(secretName(component));
    if (existing == null) {
      client.secrets().inNamespace(namespace).resource(wanted).create();
    } else {
      // Update at the version read: a concurrent change makes this fail rather than be lost.
      wanted.getMetadata().setResourceVersion(existing.getMetadata().getResourceVersion());
      client.secrets().inNamespace(namespace).resource(wanted).update();
    }
  }

  @Override
  public String where(Identity component) {
    return "Secret " + namespace + "/" + secretName(component);
  }

  @Override
  public String whereCa() {
    return "Secret " + namespace + "/" + CA_SECRET;
  }

  private Secret get(String name) {
    return client.secrets().inNamespace(namespace).withName(name).get();
  }

  private Secret secret(String name, String caPem, ClusterCertificates.Material m) {
    Map<String, String> data = new LinkedHashMap<>();
    data.put(TlsSettings.CA_FILE, encode(caPem));
    data.put(TlsSettings.CERT_FILE, encode(m.certificatePem()));
    data.put(TlsSettings.KEY_FILE, encode(m.keyPem()));
    return new SecretBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace(namespace)
        .addToLabels("app.kubernetes.io/part-of", "kmesos")
        .addToLabels("app.kubernetes.io/managed-by", "kmesos-certs")
        .endMetadata()
        .withType("kubernetes.io/tls")
        .withData(data)
        .build();
  }

  private static ClusterCertificates.Material material(Secret s) {
    if (s == null) {
      return null;
    }
    String cert = decode(s, TlsSettings.CERT_FILE);
    String key = decode(s, TlsSettings.KEY_FILE);
    return cert == null || key == null ? null : new ClusterCertificates.Material(cert, key);
  }

  private static String decode(Secret s, String key) {
    if (s.getData() != null && s.getData().get(key) != null) {
      return new String(Base64.getDecoder().decode(s.getData().get(key)), StandardCharsets.UTF_8);
    }
    return s.getStringData() == null ? null : s.getStringData().get(key);
  }

  private static String encode(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }
}
