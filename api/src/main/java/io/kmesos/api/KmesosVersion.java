package io.kmesos.api;

import io.kmesos.api.v1.BuildInfo;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * The kmesos release this build belongs to, read from a resource that Maven stamps at build time.
 */
public final class KmesosVersion {
  private static final String VERSION = load();

  private KmesosVersion() {}

  /** The release, e.g. {@code 0.1.0-SNAPSHOT}. */
  public static String version() {
    return VERSION;
  }

  /** What a process of the given component reports about itself over the {@code Info} service. */
  public static BuildInfo buildInfo(String component) {
    return BuildInfo.newBuilder()
        .setComponent(component)
        .setVersion(VERSION)
        .setJavaVersion(System.getProperty("java.version", "unknown"))
        .build();
  }

  /** One line for {@code --version}: {@code <command> <version> (Java <version>)}. */
  public static String versionLine(String command) {
    return command + " " + VERSION + " (Java " + System.getProperty("java.version") + ")";
  }

  private static String load() {
    try (InputStream in = KmesosVersion.class.getResourceAsStream("version.properties")) {
      if (in == null) {
        throw new IllegalStateException(
            "io/kmesos/api/version.properties is missing from the classpath");
      }
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("version");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
