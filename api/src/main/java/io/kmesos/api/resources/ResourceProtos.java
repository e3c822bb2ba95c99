package io.kmesos.api.resources;

import io.kmesos.api.v1.Range;
import io.kmesos.api.v1.Ranges;
import io.kmesos.api.v1.Resource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Converts between the {@code Resource} protos of the contracts and {@link Resources}. Reading
 * refuses what tasks.proto forbids (a name given twice, a resource with no value) and what {@link
 * Resources} refuses (negative or non-finite scalars, bad names, bad ranges), with a one-line
 * message naming the resource. Writing gives one {@code Resource} per name, sorted by name, so
 * equal values give equal protos.
 */
public final class ResourceProtos {
  private ResourceProtos() {}

  /**
   * @throws IllegalArgumentException naming the first resource that is wrong
   */
  public static Resources read(List<Resource> resources) {
    Resources sum = Resources.EMPTY;
    Set<String> names = new HashSet<>();
    for (Resource r : resources) {
      if (!names.add(r.getName())) {
        throw new IllegalArgumentException("resource '" + r.getName() + "' is named twice");
      }
      sum = sum.plus(read(r));
    }
    return sum;
  }

  private static Resources read(Resource r) {
    try {
      return switch (r.getValueCase()) {
        case SCALAR -> Resources.scalar(r.getName(), r.getScalar());
        case RANGES -> {
          List<Resources.Range> list = new ArrayList<>();
          for (Range range : r.getRanges().getRangeList()) {
            if (range.getBegin() < 0 || range.getEnd() < 0) {
              throw new IllegalArgumentException("ranges beyond " + Long.MAX_VALUE);
            }
            list.add(new Resources.Range(range.getBegin(), range.getEnd()));
          }
          yield Resources.ranges(r.getName(), list);
        }
        case VALUE_NOT_SET ->
            throw new IllegalArgumentException("resource '" + r.getName() + "' has no value");
      };
    } catch (IllegalArgumentException e) {
      if (e.getMessage() != null && e.getMessage().contains("'" + r.getName() + "'")) {
        throw e;
      }
      throw new IllegalArgumentException("resource '" + r.getName() + "': " + e.getMessage(), e);
    }
  }

  public static List<Resource> write(Resources resources) {
    List<Resource> out = new ArrayList<>();
    for (String name : allNames(resources)) {
      if (resources.scalarNames().contains(name)) {
        out.add(
            Resource.newBuilder()
                .setName(name)
                .setScalar(resources.thousandths(name) / (double) Resources.SCALE)
                .build());
      } else {
        Ranges.Builder ranges = Ranges.newBuilder();
        for (Resources.Range range : resources.ranges(name)) {
          ranges.addRange(Range.newBuilder().setBegin(range.begin()).setEnd(range.end()));
        }
        out.add(Resource.newBuilder().setName(name).setRanges(ranges).build());
      }
    }
    return out;
  }

  private static Set<String> allNames(Resources resources) {
    Set<String> names = new java.util.TreeSet<>(resources.scalarNames());
    names.addAll(resources.rangeNames());
    return names;
  }
}
