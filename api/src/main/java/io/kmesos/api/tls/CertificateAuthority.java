package io.kmesos.api.tls;

import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The cluster's certificate authority: a self-signed CA certificate and its key, which issues the
 * components' certificates (ECDSA P-256, SHA-256). Used by {@code kmesos-certs}, by {@code
 * kmesos-local} and by the tests, so all three issue the same certificates.
 */
public final class CertificateAuthority {
  /** A certificate with its private key. */
  public record Issued(X509Certificate certificate, PrivateKey key) {
    public String certificatePem() {
      return Pem.of(certificate);
    }

    public String keyPem() {
      return Pem.of(key);
    }
  }

  /**
   * What a certificate says: its subject's common name, URI names (the kmesos identity), the host
   * names and IP addresses it may be reached at (for clients that check them; kmesos's own check
   * the identity), and when it is valid.
   */
  public record Request(
      String commonName,
      List<String> uris,
      List<String> hosts,
      Instant notBefore,
      Instant notAfter) {
    public Request {
      uris = List.copyOf(uris);
      hosts = List.copyOf(hosts);
      if (!notAfter.isAfter(notBefore)) {
        throw new IllegalArgumentException("a certificate must end after it begins");
      }
    }

    /**
     * A component's certificate: its identity, {@code hosts}, valid from a minute ago (clock skew)
     * for {@code validity}.
     */
    public static Request of(
        Identity identity, List<String> hosts, Instant now, Duration validity) {
      return new Request(
          "kmesos " + identity.component(),
          List.of(identity.uri()),
          hosts,
          now.minus(CLOCK_SKEW),
          now.plus(validity));
    }
  }

  /**
   * How far back a new certificate's validity starts: another machine's clock may be a little
   * behind.
   */
  static final Duration CLOCK_SKEW = Duration.ofMinutes(1);

  private static final SecureRandom RANDOM = new SecureRandom();

  private final Issued ca;

  private CertificateAuthority(Issued ca) {
    this.ca = ca;
  }

  /** A new CA named {@code name}, valid from now for {@code validity}. */
  public static CertificateAuthority create(String name, Instant now, Duration validity) {
    KeyPair keys = newKeyPair();
    X500Name subject = name(name);
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder builder =
          new JcaX509v3CertificateBuilder(
                  subject,
                  serial(),
                  Date.from(now.minus(CLOCK_SKEW)),
                  Date.from(now.plus(validity)),
                  subject,
                  keys.getPublic())
              .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
              .addExtension(
                  Extension.keyUsage,
                  true,
                  new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign | KeyUsage.digitalSignature))
              .addExtension(
                  Extension.subjectKeyIdentifier,
                  false,
                  ext.createSubjectKeyIdentifier(keys.getPublic()));
      return new CertificateAuthority(
          new Issued(sign(builder, keys.getPrivate()), keys.getPrivate()));
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException("cannot create a CA: " + e.getMessage(), e);
    }
  }

  /**
   * The CA whose certificate and key these PEM texts hold (a one-line error if they are not a
   * CA's).
   */
  public static CertificateAuthority load(String certificatePem, String keyPem) {
    X509Certificate cert = Pem.certificates(certificatePem).get(0);
    if (cert.getBasicConstraints() < 0) {
      throw new IllegalArgumentException(
          "the certificate '" + cert.getSubjectX500Principal().getName() + "' is not a CA's");
    }
    return new CertificateAuthority(new Issued(cert, Pem.privateKey(keyPem)));
  }

  public X509Certificate certificate() {
    return ca.certificate();
  }

  public Issued issued() {
    return ca;
  }

  /** Issues a certificate for a new key pair, usable by a server and as a client. */
  public Issued issue(Request request) {
    KeyPair keys = newKeyPair();
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      List<GeneralName> names = new ArrayList<>();
      for (String uri : request.uris()) {
        names.add(new GeneralName(GeneralName.uniformResourceIdentifier, uri));
      }
      for (String host : request.hosts()) {
        names.add(
            isIpAddress(host)
                ? new GeneralName(GeneralName.iPAddress, host)
                : new GeneralName(GeneralName.dNSName, host));
      }
      X509v3CertificateBuilder builder =
          new JcaX509v3CertificateBuilder(
                  ca.certificate(),
                  serial(),
                  Date.from(request.notBefore()),
                  Date.from(request.notAfter()),
                  name(request.commonName()),
                  keys.getPublic())
              .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
              .addExtension(
                  Extension.keyUsage,
                  true,
                  new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement))
              .addExtension(
                  Extension.extendedKeyUsage,
                  false,
                  new ExtendedKeyUsage(
                      new KeyPurposeId[] {
                        KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth
                      }))
              .addExtension(
                  Extension.subjectKeyIdentifier,
                  false,
                  ext.createSubjectKeyIdentifier(keys.getPublic()))
              .addExtension(
                  Extension.authorityKeyIdentifier,
                  false,
                  ext.createAuthorityKeyIdentifier(ca.certificate()));
      if (!names.isEmpty()) {
        builder.addExtension(
            Extension.subjectAlternativeName,
            false,
            new GeneralNames(names.toArray(GeneralName[]::new)));
      }
      return new Issued(sign(builder, ca.key()), keys.getPrivate());
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException("cannot issue a certificate: " + e.getMessage(), e);
    }
  }

  /** Whether {@code cert} was signed by this CA's key. */
  public boolean signed(X509Certificate cert) {
    try {
      PublicKey key = ca.certificate().getPublicKey();
      cert.verify(key);
      return true;
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey key)
      throws GeneralSecurityException {
    try {
      return new JcaX509CertificateConverter()
          .getCertificate(builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key)));
    } catch (OperatorCreationException e) {
      throw new GeneralSecurityException(e.getMessage(), e);
    }
  }

  private static KeyPair newKeyPair() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JVM cannot make EC P-256 keys: " + e.getMessage(), e);
    }
  }

  private static X500Name name(String commonName) {
    return new X500NameBuilder(BCStyle.INSTANCE)
        .addRDN(BCStyle.O, "kmesos")
        .addRDN(BCStyle.CN, commonName)
        .build();
  }

  private static BigInteger serial() {
    return new BigInteger(127, RANDOM).add(BigInteger.ONE);
  }

  /** A literal IPv4 or IPv6 address (never resolved: a host name stays a DNS name). */
  static boolean isIpAddress(String host) {
    if (host.matches("\\d{1,3}(\\.\\d{1,3}){3}") || host.contains(":")) {
      try {
        InetAddress.getByName(host);
        return true;
      } catch (UnknownHostException e) {
        return false;
      }
    }
    return false;
  }
}
