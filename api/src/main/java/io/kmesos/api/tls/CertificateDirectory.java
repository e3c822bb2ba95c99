package io.kmesos.api.tls;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The CA and the components' certificates as files, in the layout of Kubernetes TLS Secrets: {@code
 * <root>/ca/} holds the CA ({@code tls.crt}, {@code tls.key}, and {@code ca.crt}), and {@code
 * <root>/<component>/} holds {@code ca.crt}, {@code tls.crt}, {@code tls.key}: a directory to pass
 * as a component's {@code --tls-dir}. Every file is replaced whole (written beside, then renamed),
 * keys readable by their owner only.
 */
public final class CertificateDirectory implements ClusterCertificates.Store {
  private final Path root;

  public CertificateDirectory(Path root) {
    this.root = root;
  }

  /** The directory of {@code component}'s files: its {@code --tls-dir}. */
  public Path dir(Identity component) {
    return root.resolve(component.component());
  }

  public Path caDir() {
    return root.resolve("ca");
  }

  /** The TLS settings of {@code component}: its directory. */
  public TlsSettings settings(Identity component) {
    return TlsSettings.fromDirectory(dir(component));
  }

  @Override
  public ClusterCertificates.Material readCa() {
    return read(caDir());
  }

  @Override
  public synchronized ClusterCertificates.Material createCa(ClusterCertificates.Material ca) {
    ClusterCertificates.Material existing = readCa();
    if (existing != null) {
      return existing;
    }
    write(caDir(), ca.certificatePem(), ca);
    return ca;
  }

  @Override
  public ClusterCertificates.Material read(Identity component) {
    return read(dir(component));
  }

  @Override
  public String readTrust(Identity component) {
    Path file = dir(component).resolve(TlsSettings.CA_FILE);
    try {
      return Files.isRegularFile(file) ? Files.readString(file) : null;
    } catch (IOException e) {
      return null;
    }
  }

  @Override
  public void write(Identity component, String caPem, ClusterCertificates.Material issued) {
    write(dir(component), caPem, issued);
  }

  @Override
  public String where(Identity component) {
    return dir(component).toString();
  }

  @Override
  public String whereCa() {
    return caDir().toString();
  }

  private static ClusterCertificates.Material read(Path dir) {
    Path cert = dir.resolve(TlsSettings.CERT_FILE);
    Path key = dir.resolve(TlsSettings.KEY_FILE);
    if (!Files.isRegularFile(cert) || !Files.isRegularFile(key)) {
      return null;
    }
    try {
      return new ClusterCertificates.Material(Files.readString(cert), Files.readString(key));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + dir + ": " + e.getMessage(), e);
    }
  }

  /**
   * Trust first, then the key, then the certificate: a reader that sees the new certificate already
   * sees its key. (One that reads between the key and the certificate gets a pair that does not
   * match until its next reload; Secrets volumes swap all files at once and have no such moment.)
   */
  private static void write(Path dir, String caPem, ClusterCertificates.Material m) {
    try {
      Files.createDirectories(dir);
      replace(dir.resolve(TlsSettings.CA_FILE), caPem, false);
      replace(dir.resolve(TlsSettings.KEY_FILE), m.keyPem(), true);
      replace(dir.resolve(TlsSettings.CERT_FILE), m.certificatePem(), false);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot write certificates to " + dir + ": " + e.getMessage(), e);
    }
  }

  private static void replace(Path file, String content, boolean secret) throws IOException {
    Path temp = file.resolveSibling("." + file.getFileName() + ".new");
    Files.deleteIfExists(temp);
    try {
      Files.createFile(
          temp,
          PosixFilePermissions.asFileAttribute(
              PosixFilePermissions.fromString(secret ? "rw-------" : "rw-r--r--")));
    } catch (UnsupportedOperationException | FileAlreadyExistsException e) {
      Files.deleteIfExists(temp);
      Files.createFile(temp);
    }
    Files.writeString(temp, content);
    try {
      Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING);
    }
  }
}
