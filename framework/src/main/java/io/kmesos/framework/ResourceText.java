package io.kmesos.framework;

import io.kmesos.api.resources.ResourceProtos;
import io.kmesos.api.resources.Resources;
import io.kmesos.api.v1.Resource;
import java.util.List;

/**
 * Resources as people write them, the syntax of mesos-execute's {@code --resources}: {@code
 * cpus:0.5;mem:128;ports:[31000-31005,31010-31010]}, read and written by the same {@link Resources}
 * the master allocates with, so a framework and the master never disagree on what a text means or
 * whether an offer holds a task.
 */
public final class ResourceText {
  private ResourceText() {}

  /**
   * The resources of {@code text}, one per name, names sorted.
   *
   * @throws IllegalArgumentException one line naming the bad part
   */
  public static List<Resource> parse(String text) {
    return ResourceProtos.write(Resources.parse(text));
  }

  /** The resources in the same syntax, e.g. {@code cpus:0.1;mem:32;ports:[31000-31005]}. */
  public static String format(List<Resource> resources) {
    return ResourceProtos.read(resources).toString();
  }

  /**
   * Whether {@code offered} holds {@code wanted}: every wanted scalar at least as large (to 0.001),
   * every wanted range inside an offered one.
   */
  public static boolean contains(List<Resource> offered, List<Resource> wanted) {
    return ResourceProtos.read(offered).contains(ResourceProtos.read(wanted));
  }
}
