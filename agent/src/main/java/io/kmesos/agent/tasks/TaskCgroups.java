package io.kmesos.agent.tasks;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A cgroup of its own for every checkpointed run, outside the agent's container ({@code
 * --task-cgroups}), so that a task outlives the agent's Pod: when a container ends, the runtime
 * kills every process left in the container's cgroups (containerd's shim does, once the container's
 * first process ends, for containers in the host's PID namespace) and the kubelet kills what is
 * left in the Pod's; a task moved out of both before its command runs is reached by neither
 * (docs/agent-recovery.md, "Outliving the agent's Pod").
 *
 * <p>The runs' cgroups are {@code <root>/<run id>} in every hierarchy mounted under the cgroup file
 * system ({@code --cgroup-fs}: each v1 controller and named hierarchy and, on a hybrid node, the
 * controller-less v2 one; or the v2 one alone, where a container in a cgroup namespace of its own
 * cannot move a process out of it). The agent makes them before the run starts; the task's shell
 * writes its own pid into each {@code cgroup.procs} before it runs the command, so every process of
 * the task starts there (a process moved later would leave the children it already had behind).
 * Once the run's processes are gone the agent removes them; the kernel refuses to remove a cgroup
 * that still holds a process, so a sweep at start ({@link #removeEmpty}) cannot take one from a
 * live task.
 *
 * <p>A relative root (e.g. {@code kmesos-tasks}) is taken beside the kubelet's {@code kubepods}
 * cgroup the agent's Pod is in: {@code /kmesos-tasks} on a node whose kubelet has the default
 * cgroup root, {@code /kmesos-node-<id>/kmesos-tasks} on the test node of scripts/kube-node.sh.
 */
public final class TaskCgroups {
  private static final Logger LOG = LoggerFactory.getLogger(TaskCgroups.class);

  /** Path components: what a cgroup's name may be here (no separators, no dots alone). */
  private static final Pattern COMPONENT = Pattern.compile("[A-Za-z0-9_.:@+-]{1,255}");

  private final Path fs;
  private final String root;
  private final List<Path> roots;

  private TaskCgroups(Path fs, String root, List<Path> roots) {
    this.fs = fs;
    this.root = root;
    this.roots = roots;
  }

  /**
   * The runs' root in every hierarchy under {@code fs}, checked: each exists (made if it can be)
   * and the agent can make and remove a cgroup in it. Throws IllegalArgumentException with a
   * one-line reason naming the option otherwise.
   *
   * @param fs where the cgroup hierarchies are mounted (the node's /sys/fs/cgroup)
   * @param root the runs' root, absolute in the hierarchies or relative to the kubelet's cgroup
   *     root (see above)
   * @param ownCgroups the agent's {@code /proc/self/cgroup}, for a relative root
   */
  public static TaskCgroups open(Path fs, String root, String ownCgroups) {
    String resolved = resolve(root, ownCgroups);
    List<Path> hierarchies = hierarchies(fs);
    List<Path> roots = new ArrayList<>();
    for (Path h : hierarchies) {
      Path r = h.resolve(resolved.substring(1));
      try {
        makeCgroup(r);
        Path probe = r.resolve(".probe-" + ProcessHandle.current().pid());
        makeCgroup(probe);
        Files.delete(probe);
      } catch (IOException e) {
        throw new IllegalArgumentException(
            "--task-cgroups: cannot make a cgroup under "
                + r
                + " ("
                + reason(e)
                + "): mount the node's cgroup file system at --cgroup-fs and let the agent's user"
                + " write there (docs/kubernetes.md, \"Tasks outlive the agent's Pod\")");
      }
      roots.add(r);
    }
    LOG.info("checkpointed tasks get cgroups of their own under {} in {}", resolved, roots);
    return new TaskCgroups(fs, resolved, List.copyOf(roots));
  }

  /**
   * The root as a path in the hierarchies: an absolute one as it is, a relative one beside the
   * {@code kubepods} (or {@code kubepods.slice}) cgroup in {@code ownCgroups}.
   */
  static String resolve(String root, String ownCgroups) {
    if (root == null || root.isBlank()) {
      throw new IllegalArgumentException("--task-cgroups is empty");
    }
    boolean absolute = root.startsWith("/");
    String[] parts = (absolute ? root.substring(1) : root).split("/", -1);
    for (String p : parts) {
      if (!COMPONENT.matcher(p).matches() || p.matches("\\.+")) {
        throw new IllegalArgumentException(
            "--task-cgroups '" + root + "': each part must be 1 to 255 of letters, digits, _.:@+-");
      }
    }
    if (absolute) {
      return root;
    }
    for (String line : ownCgroups.split("\n")) {
      // hierarchy-id:controllers:path
      String[] f = line.split(":", 3);
      if (f.length < 3) {
        continue;
      }
      String path = f[2].strip();
      int at = kubepods(path);
      if (at >= 0) {
        String base = path.substring(0, at);
        return (base.endsWith("/") ? base : base + "/") + root;
      }
    }
    throw new IllegalArgumentException(
        "--task-cgroups '"
            + root
            + "' is relative, but the agent is not in a Pod's cgroup (no kubepods in"
            + " /proc/self/cgroup): give an absolute path");
  }

  /** Where the {@code kubepods} component starts in a cgroup path, or -1. */
  private static int kubepods(String path) {
    int i = 0;
    for (String p : path.split("/", -1)) {
      if (p.equals("kubepods") || p.equals("kubepods.slice")) {
        return i;
      }
      i += p.length() + 1;
    }
    return -1;
  }

  /**
   * The hierarchies under {@code fs}: fs itself when it is a v2 file system, else each directory
   * (not a symbolic link: cpu → cpu,cpuacct) with a {@code cgroup.procs}: the v1 hierarchies and,
   * on a hybrid node, the v2 one beside them.
   */
  static List<Path> hierarchies(Path fs) {
    if (Files.exists(fs.resolve("cgroup.controllers"))
        && Files.exists(fs.resolve("cgroup.procs"))) {
      return List.of(fs);
    }
    List<Path> found = new ArrayList<>();
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(fs)) {
      for (Path d : dirs) {
        // Beside v1 hierarchies (hybrid) the v2 one carries no controllers, but the kubelet
        // removes a Pod's cgroup there too, and cannot while a task is left in it: the old Pod
        // would stay Terminating for as long as the task runs. So the task moves there as well.
        if (!Files.isSymbolicLink(d) && Files.exists(d.resolve("cgroup.procs"))) {
          found.add(d);
        }
      }
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "--cgroup-fs " + fs + " cannot be read (" + reason(e) + ")");
    }
    if (found.isEmpty()) {
      throw new IllegalArgumentException(
          "--cgroup-fs " + fs + " holds no cgroup hierarchy (no cgroup.procs in it or below)");
    }
    found.sort(null);
    return List.copyOf(found);
  }

  /** The resolved root (a path in the hierarchies). */
  public String root() {
    return root;
  }

  /** The run's cgroup in every hierarchy (which may not exist). */
  public List<Path> of(String runId) {
    return roots.stream().map(r -> r.resolve(runId)).toList();
  }

  /** Makes the run's cgroup in every hierarchy; returns them, for the task's shell to join. */
  public List<Path> create(String runId) throws IOException {
    if (!COMPONENT.matcher(runId).matches()) {
      throw new IOException("not a run ID: " + runId);
    }
    List<Path> made = new ArrayList<>();
    for (Path d : of(runId)) {
      makeCgroup(d);
      made.add(d);
    }
    return made;
  }

  /**
   * Removes the run's cgroups; true if none is left. One that still holds a process stays (the
   * kernel refuses; a later sweep takes it once it is empty).
   */
  public boolean remove(String runId) {
    return remove(runId, true);
  }

  /** As {@link #remove(String)}; {@code warn}: log each cgroup that stays (else at DEBUG). */
  public boolean remove(String runId, boolean warn) {
    boolean all = true;
    for (Path d : of(runId)) {
      try {
        Files.deleteIfExists(d);
      } catch (IOException e) {
        all = false;
        if (warn) {
          LOG.warn("cannot remove the cgroup {} of run {} yet: {}", d, runId, reason(e));
        } else {
          LOG.debug("cannot remove the cgroup {} of run {} yet: {}", d, runId, reason(e));
        }
      }
    }
    return all;
  }

  /**
   * Removes every run cgroup that holds no process (those of runs that ended); returns how many.
   */
  public int removeEmpty() {
    int removed = 0;
    for (Path r : roots) {
      try (DirectoryStream<Path> dirs = Files.newDirectoryStream(r, Files::isDirectory)) {
        for (Path d : dirs) {
          try {
            Files.delete(d);
            removed++;
          } catch (IOException busy) {
            // still holds a process (a running task), or a cgroup below it: stays
          }
        }
      } catch (IOException e) {
        LOG.warn("cannot list {}: {}", r, reason(e));
      }
    }
    return removed;
  }

  /**
   * Makes a cgroup (an existing one is fine). A new cpuset cgroup (v1) has no CPUs and no memory
   * nodes, and no process may join it: it gets its parent's.
   */
  private static void makeCgroup(Path d) throws IOException {
    try {
      Files.createDirectory(d);
    } catch (FileAlreadyExistsException exists) {
      // made by an earlier agent, or the init container
      if (!Files.isDirectory(d)) {
        throw new java.nio.file.NotDirectoryException(d.toString());
      }
    } catch (NoSuchFileException noParent) {
      if (d.getParent() == null || Files.exists(d.getParent())) {
        throw noParent;
      }
      makeCgroup(d.getParent());
      makeCgroup(d);
      return;
    }
    for (String file : List.of("cpuset.cpus", "cpuset.mems")) {
      Path own = d.resolve(file);
      if (Files.exists(own) && Files.readString(own).isBlank()) {
        Files.writeString(own, Files.readString(d.getParent().resolve(file)).strip());
      }
    }
  }

  /** A one-line reason for a failed cgroup operation. */
  public static String reason(IOException e) {
    String m = Optional.ofNullable(e.getMessage()).orElse("");
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) {
      return f.getReason();
    }
    return e.getClass().getSimpleName() + (m.isEmpty() ? "" : ": " + m);
  }

  @Override
  public String toString() {
    return "TaskCgroups[" + root + " in " + fs + "]";
  }
}
