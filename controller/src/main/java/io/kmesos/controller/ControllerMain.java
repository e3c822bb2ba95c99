package io.kmesos.controller;

import io.kmesos.api.cli.VersionProvider;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code kmesos-controller}: the kmesos master. The controller that holds the {@code kmesos-master}
 * Lease is the master and the registry's only writer; the others stand by with warm caches.
 */
@Command(name = "kmesos-controller", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
    description = "The kmesos master: elected through a Kubernetes Lease, it reconciles Agent, Quota, Weight and MaintenanceSchedule resources into the registry on the replicated log.")
public final class ControllerMain implements Runnable {
  @Spec CommandSpec spec;

  public static void main(String[] args) {
    System.exit(new CommandLine(new ControllerMain()).execute(args));
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }
}
