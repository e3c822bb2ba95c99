package io.kmesos.api.cli;

import io.kmesos.api.KmesosVersion;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code --version} for every kmesos command: {@code <command> <release> (Java <version>)}. */
public final class VersionProvider implements IVersionProvider {
  @Spec CommandSpec spec;

  @Override
  public String[] getVersion() {
    return new String[] {KmesosVersion.versionLine(spec.root().name())};
  }
}
