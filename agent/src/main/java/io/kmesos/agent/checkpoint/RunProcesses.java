package io.kmesos.agent.checkpoint;

import com.google.protobuf.Timestamp;
import io.kmesos.api.agent.v1.RunProcessRecord;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;

/**
 * The identity of a run's process, for {@code forked.pid}: written when the process starts, checked
 * after an agent restart. A pid alone is not enough: once the process is gone the kernel may give
 * its pid to another, so the record also holds the process's start time, and a process is the run's
 * only if both match (Linux, /proc).
 */
public final class RunProcesses {
  private RunProcesses() {}

  /** The record of {@code process}, a run's process that is alive now. */
  public static RunProcessRecord describe(
      String runId, ProcessHandle process, Path sandbox, String bootId) throws IOException {
    long pid = process.pid();
    long[] groupAndSession = groupAndSession(pid);
    RunProcessRecord.Builder r =
        RunProcessRecord.newBuilder()
            .setRunId(runId)
            .setPid(pid)
            .setPgid(groupAndSession[0])
            .setSid(groupAndSession[1])
            .setSandbox(sandbox.toString())
            .setBootId(bootId);
    startedAt(process).ifPresent(r::setProcessStartedAt);
    return r.build();
  }

  /**
   * The process the record names, if it is still that one: alive, with the recorded start time
   * (only the pid is compared when none was recorded). Only meaningful on the boot the record was
   * written on.
   */
  public static Optional<ProcessHandle> stillRunning(RunProcessRecord record) {
    Optional<ProcessHandle> handle =
        ProcessHandle.of(record.getPid()).filter(ProcessHandle::isAlive);
    if (handle.isEmpty() || !record.hasProcessStartedAt()) {
      return handle;
    }
    return startedAt(handle.get()).equals(Optional.of(record.getProcessStartedAt()))
        ? handle
        : Optional.empty();
  }

  private static Optional<Timestamp> startedAt(ProcessHandle process) {
    Optional<Instant> start = process.info().startInstant();
    return start.map(
        i -> Timestamp.newBuilder().setSeconds(i.getEpochSecond()).setNanos(i.getNano()).build());
  }

  /** Fields 5 and 6 of /proc/<pid>/stat (after the command name, which may hold anything). */
  private static long[] groupAndSession(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return new long[] {Long.parseLong(fields[2]), Long.parseLong(fields[3])};
  }
}
