package io.kmesos.agent.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where the runs' cgroups go and the errors an unusable cgroup file system gives, on a directory
 * tree laid out as one (the kernel's own rules, such as refusing to remove a cgroup that holds a
 * process, are the real node's to show: RealNodeIT).
 */
class TaskCgroupsTest {
  @TempDir Path fs;

  /** /proc/self/cgroup of a container on a cgroupfs-driver kubelet with cgroupRoot /node-1. */
  static final String IN_POD =
      """
      9:name=systemd:/node-1/kubepods/besteffort/pod1234/abcd
      4:memory:/node-1/kubepods/besteffort/pod1234/abcd
      0::/node-1/kubepods/besteffort/pod1234/abcd
      """;

  @Test
  void aRelativeRootIsTakenBesideTheKubeletsKubepodsCgroup() {
    assertThat(TaskCgroups.resolve("kmesos-tasks", IN_POD)).isEqualTo("/node-1/kmesos-tasks");
    assertThat(TaskCgroups.resolve("kmesos/tasks", "4:memory:/kubepods/burstable/pod9/ef\n"))
        .isEqualTo("/kmesos/tasks");
    assertThat(
            TaskCgroups.resolve(
                "kmesos-tasks",
                "1:name=systemd:/kubepods.slice/kubepods-besteffort.slice/cri-containerd-1.scope\n"))
        .isEqualTo("/kmesos-tasks");
    assertThat(TaskCgroups.resolve("/elsewhere/tasks", IN_POD)).isEqualTo("/elsewhere/tasks");
  }

  @Test
  void aRelativeRootOutsideAPodOrABadOneIsRefusedWithTheOptionsName() {
    assertThatThrownBy(() -> TaskCgroups.resolve("kmesos-tasks", "4:memory:/user.slice\n0::/\n"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "--task-cgroups 'kmesos-tasks' is relative, but the agent is not in a Pod's cgroup (no"
                + " kubepods in /proc/self/cgroup): give an absolute path");
    assertThatThrownBy(() -> TaskCgroups.resolve("../up", IN_POD))
        .hasMessageStartingWith("--task-cgroups '../up': each part must be");
    assertThatThrownBy(() -> TaskCgroups.resolve("a//b", IN_POD))
        .hasMessageStartingWith("--task-cgroups 'a//b': each part must be");
    assertThatThrownBy(() -> TaskCgroups.resolve(" ", IN_POD))
        .hasMessage("--task-cgroups is empty");
  }

  /** A hybrid layout: v1 controllers, a named hierarchy, a link, and the controller-less v2. */
  void v1Layout() throws Exception {
    for (String h : List.of("cpu,cpuacct", "cpuset", "memory", "systemd", "unified")) {
      Files.createDirectories(fs.resolve(h));
      Files.writeString(fs.resolve(h).resolve("cgroup.procs"), "");
    }
    Files.writeString(fs.resolve("unified/cgroup.controllers"), "");
    Files.createSymbolicLink(fs.resolve("cpu"), fs.resolve("cpu,cpuacct"));
    Files.createDirectories(fs.resolve("cpuset/node-1"));
    Files.writeString(fs.resolve("cpuset/node-1/cpuset.cpus"), "0-1\n");
    Files.writeString(fs.resolve("cpuset/node-1/cpuset.mems"), "0\n");
  }

  @Test
  void everyHierarchyOnceTheControllerlessV2OneBesideThemToo() throws Exception {
    v1Layout();
    assertThat(TaskCgroups.hierarchies(fs))
        .containsExactly(
            fs.resolve("cpu,cpuacct"),
            fs.resolve("cpuset"),
            fs.resolve("memory"),
            fs.resolve("systemd"),
            fs.resolve("unified"));
  }

  @Test
  void aV2FileSystemIsOneHierarchy() throws Exception {
    Files.writeString(fs.resolve("cgroup.controllers"), "cpu memory pids\n");
    Files.writeString(fs.resolve("cgroup.procs"), "");
    assertThat(TaskCgroups.hierarchies(fs)).containsExactly(fs);
  }

  @Test
  void aDirectoryWithoutHierarchiesIsRefused() {
    assertThatThrownBy(() -> TaskCgroups.hierarchies(fs))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "--cgroup-fs " + fs + " holds no cgroup hierarchy (no cgroup.procs in it or below)");
    assertThatThrownBy(() -> TaskCgroups.hierarchies(fs.resolve("missing")))
        .hasMessageStartingWith("--cgroup-fs " + fs.resolve("missing") + " cannot be read");
  }

  @Test
  void eachRunGetsACgroupInEveryHierarchyAndACpusetCgroupItsParentsCpus() throws Exception {
    v1Layout();
    TaskCgroups cgroups = TaskCgroups.open(fs, "kmesos-tasks", IN_POD);
    assertThat(cgroups.root()).isEqualTo("/node-1/kmesos-tasks");
    // A cpuset cgroup comes with empty cpus and mems (the kernel makes the files).
    Path cpuset = fs.resolve("cpuset/node-1/kmesos-tasks/run-1");
    Files.createDirectories(cpuset);
    Files.writeString(cpuset.resolve("cpuset.cpus"), "\n");
    Files.writeString(cpuset.resolve("cpuset.mems"), "\n");
    Files.writeString(cpuset.getParent().resolve("cpuset.cpus"), "0-1\n");
    Files.writeString(cpuset.getParent().resolve("cpuset.mems"), "0\n");

    List<Path> made = cgroups.create("run-1");

    assertThat(made)
        .containsExactly(
            fs.resolve("cpu,cpuacct/node-1/kmesos-tasks/run-1"),
            cpuset,
            fs.resolve("memory/node-1/kmesos-tasks/run-1"),
            fs.resolve("systemd/node-1/kmesos-tasks/run-1"),
            fs.resolve("unified/node-1/kmesos-tasks/run-1"));
    assertThat(made).allMatch(Files::isDirectory);
    assertThat(Files.readString(cpuset.resolve("cpuset.cpus"))).isEqualTo("0-1");
    assertThat(Files.readString(cpuset.resolve("cpuset.mems"))).isEqualTo("0");
    assertThatThrownBy(() -> cgroups.create("../x")).hasMessage("not a run ID: ../x");
  }

  @Test
  void aRunsCgroupsGoWhenEmptyAndStayWhileBusy() throws Exception {
    v1Layout();
    TaskCgroups cgroups = TaskCgroups.open(fs, "/tasks", IN_POD);
    cgroups.create("done");
    cgroups.create("busy");
    cgroups.create("ended");
    // A non-empty directory is refused as a cgroup holding a process is (EBUSY).
    Files.writeString(fs.resolve("memory/tasks/busy/held"), "");

    assertThat(cgroups.remove("done")).isTrue();
    assertThat(cgroups.remove("busy")).isFalse();
    assertThat(cgroups.of("done")).noneMatch(Files::exists);
    assertThat(fs.resolve("memory/tasks/busy")).exists();
    // The sweep at start: every cgroup that can go, goes; the busy one stays.
    // ("busy" went already where it held nothing; it stays where it does.)
    assertThat(cgroups.removeEmpty()).isEqualTo(5);
    assertThat(cgroups.of("ended")).noneMatch(Files::exists);
    assertThat(fs.resolve("memory/tasks/busy")).exists();
  }

  @Test
  void aCgroupFileSystemTheAgentCannotWriteIsAOneLineErrorNamingTheOption() throws Exception {
    v1Layout();
    // Where the runs' root would go is a file: nothing can be made below it.
    Files.writeString(fs.resolve("memory/node-1"), "");
    assertThatThrownBy(() -> TaskCgroups.open(fs, "kmesos-tasks", IN_POD))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(
            "--task-cgroups: cannot make a cgroup under "
                + fs.resolve("memory/node-1/kmesos-tasks"))
        .hasMessageContaining("let the agent's user write there")
        .hasMessageNotContaining("\n");
  }
}
