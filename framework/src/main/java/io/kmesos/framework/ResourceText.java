package io.kmesos.framework;

import io.kmesos.api.v1.Range;
import io.kmesos.api.v1.Ranges;
import io.kmesos.api.v1.Resource;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Resources as people write them, the syntax of mesos-execute's {@code --resources} and of the
 * master's {@code Resources.parse}: {@code cpus:0.5;mem:128;ports:[31000-31005,31010-31010]}.
 * Scalars are rounded to 0.001 as the master does; a name given twice is summed. Reservations
 * ({@code cpus(role):1}) and sets are refused. Kept here, not shared with the master's module,
 * because a framework depends on the API only; a test holds the two to the same examples.
 */
public final class ResourceText {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_./-]+");

  private ResourceText() {}

  /**
   * The resources of {@code text}, one per name, names sorted.
   *
   * @throws IllegalArgumentException one line naming the bad part
   */
  public static List<Resource> parse(String text) {
    Map<String, BigDecimal> scalars = new TreeMap<>();
    Map<String, List<long[]>> ranges = new TreeMap<>();
    for (String raw : text.split(";", -1)) {
      String part = raw.strip();
      if (part.isEmpty()) {
        continue;
      }
      try {
        int colon = part.indexOf(':');
        if (colon < 0) {
          throw new IllegalArgumentException("expected name:value");
        }
        String name = part.substring(0, colon).strip();
        String value = part.substring(colon + 1).strip();
        if (name.isEmpty()) {
          throw new IllegalArgumentException("missing resource name before ':'");
        }
        if (name.indexOf('(') >= 0 || name.indexOf(')') >= 0) {
          throw new IllegalArgumentException("reservations (name(role):value) are not supported");
        }
        if (!NAME.matcher(name).matches()) {
          throw new IllegalArgumentException(
              "resource name '" + name + "' may hold only letters, digits, '_', '.', '-' and '/'");
        }
        if (value.isEmpty()) {
          throw new IllegalArgumentException("missing value after ':'");
        }
        if (value.startsWith("{")) {
          throw new IllegalArgumentException("set values ({a,b}) are not supported");
        }
        boolean isRanges = value.startsWith("[");
        if (isRanges ? scalars.containsKey(name) : ranges.containsKey(name)) {
          throw new IllegalArgumentException("'" + name + "' is given as a scalar and as ranges");
        }
        if (isRanges) {
          ranges.computeIfAbsent(name, n -> new ArrayList<>()).addAll(parseRanges(value));
        } else {
          BigDecimal number;
          try {
            number = new BigDecimal(value);
          } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + value + "' is not a number");
          }
          if (number.signum() < 0) {
            throw new IllegalArgumentException("'" + value + "' is negative");
          }
          scalars.merge(name, number.setScale(3, RoundingMode.HALF_UP), BigDecimal::add);
        }
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "invalid resources '" + text + "': '" + part + "': " + e.getMessage(), e);
      }
    }
    List<Resource> result = new ArrayList<>();
    scalars.forEach(
        (name, value) -> {
          if (value.signum() > 0) {
            result.add(Resource.newBuilder().setName(name).setScalar(value.doubleValue()).build());
          }
        });
    ranges.forEach(
        (name, list) -> {
          List<long[]> merged = merge(list);
          if (!merged.isEmpty()) {
            Ranges.Builder r = Ranges.newBuilder();
            merged.forEach(p -> r.addRange(Range.newBuilder().setBegin(p[0]).setEnd(p[1])));
            result.add(Resource.newBuilder().setName(name).setRanges(r).build());
          }
        });
    result.sort(Comparator.comparing(Resource::getName));
    return List.copyOf(result);
  }

  private static List<long[]> parseRanges(String value) {
    if (!value.endsWith("]")) {
      throw new IllegalArgumentException("ranges must end with ']'");
    }
    String inner = value.substring(1, value.length() - 1).strip();
    List<long[]> list = new ArrayList<>();
    if (inner.isEmpty()) {
      return list;
    }
    for (String raw : inner.split(",", -1)) {
      String item = raw.strip();
      int dash = item.indexOf('-');
      if (dash <= 0) {
        throw new IllegalArgumentException("'" + item + "' is not a range begin-end");
      }
      long begin = bound(item.substring(0, dash).strip(), item);
      long end = bound(item.substring(dash + 1).strip(), item);
      if (end < begin) {
        throw new IllegalArgumentException("range '" + item + "' ends before it begins");
      }
      list.add(new long[] {begin, end});
    }
    return list;
  }

  private static long bound(String bound, String item) {
    if (bound.isEmpty() || !bound.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw new IllegalArgumentException("'" + item + "' is not a range begin-end");
    }
    try {
      return Long.parseLong(bound);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + bound + "' in '" + item + "' is too large");
    }
  }

  /** Sorted, disjoint, not adjacent. */
  private static List<long[]> merge(List<long[]> list) {
    List<long[]> sorted = new ArrayList<>(list);
    sorted.sort(Comparator.comparingLong(p -> p[0]));
    List<long[]> out = new ArrayList<>();
    for (long[] p : sorted) {
      if (!out.isEmpty() && p[0] <= out.get(out.size() - 1)[1] + 1) {
        long[] last = out.get(out.size() - 1);
        last[1] = Math.max(last[1], p[1]);
      } else {
        out.add(new long[] {p[0], p[1]});
      }
    }
    return out;
  }

  /** The resources in the same syntax, e.g. {@code cpus:0.1;mem:32;ports:[31000-31005]}. */
  public static String format(List<Resource> resources) {
    List<Resource> sorted = new ArrayList<>(resources);
    sorted.sort(Comparator.comparing(Resource::getName));
    List<String> parts = new ArrayList<>();
    for (Resource r : sorted) {
      if (r.hasRanges()) {
        List<String> items = new ArrayList<>();
        for (Range range : r.getRanges().getRangeList()) {
          items.add(range.getBegin() + "-" + range.getEnd());
        }
        parts.add(r.getName() + ":[" + String.join(",", items) + "]");
      } else {
        parts.add(r.getName() + ":" + scalar(r.getScalar()));
      }
    }
    return String.join(";", parts);
  }

  private static String scalar(double value) {
    return BigDecimal.valueOf(value)
        .setScale(3, RoundingMode.HALF_UP)
        .stripTrailingZeros()
        .toPlainString();
  }

  /**
   * Whether {@code offered} holds {@code wanted}: every wanted scalar at least as large (to 0.001),
   * every wanted range inside an offered one.
   */
  public static boolean contains(List<Resource> offered, List<Resource> wanted) {
    for (Resource w : wanted) {
      Resource o =
          offered.stream().filter(r -> r.getName().equals(w.getName())).findFirst().orElse(null);
      if (o == null) {
        return false;
      }
      if (w.hasRanges()) {
        if (!o.hasRanges()) {
          return false;
        }
        for (Range need : w.getRanges().getRangeList()) {
          boolean inside =
              o.getRanges().getRangeList().stream()
                  .anyMatch(
                      have -> have.getBegin() <= need.getBegin() && need.getEnd() <= have.getEnd());
          if (!inside) {
            return false;
          }
        }
      } else {
        if (o.hasRanges() || thousandths(o.getScalar()) < thousandths(w.getScalar())) {
          return false;
        }
      }
    }
    return true;
  }

  private static long thousandths(double value) {
    return BigDecimal.valueOf(value)
        .setScale(3, RoundingMode.HALF_UP)
        .movePointRight(3)
        .longValue();
  }
}
