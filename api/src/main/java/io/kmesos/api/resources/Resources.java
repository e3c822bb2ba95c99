package io.kmesos.api.resources;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * An immutable bag of named resources, as Mesos's {@code Resources} (include/mesos/resources.hpp,
 * src/common/resources.cpp and src/common/values.cpp) without reservations, disks or sets: scalars
 * ({@code cpus}, {@code mem}, {@code disk}, {@code gpus}, or any other name) and port-style ranges.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>Scalars are fixed point with three decimal digits, held as a {@code long} count of
 *       thousandths, as Mesos rounds every scalar to 0.001 ({@code convertToFixed}). Arithmetic is
 *       therefore exact: {@code 0.1 + 0.2} equals {@code 0.3}, and {@code a + b - b} equals {@code
 *       a}, whatever the order of the operations. Input is rounded half up to the nearest 0.001.
 *   <li>A value is normalized: no scalar is zero (a zero scalar is absent, as Mesos drops empty
 *       resources), and each name's ranges are sorted, disjoint and not adjacent ({@code [1-2,3-4]}
 *       is {@code [1-4]}). Two values with the same content are {@link #equals equal}, however they
 *       were built.
 *   <li>Nothing ever goes negative: {@link #minus} refuses to subtract what is not there, with an
 *       {@link IllegalArgumentException} that names the resource. Overflow is refused the same way.
 *   <li>{@link #parse} reads the syntax mesos-execute users know ({@code
 *       cpus:0.5;mem:128;ports:[31000-31005,31010-31010]}), and {@link #toString} writes it, so
 *       {@code parse(r.toString())} equals {@code r}. A parse error is one line naming the part
 *       that is wrong.
 * </ul>
 *
 * A name holds either a scalar or ranges, never both. Only scalars take part in fair sharing (as in
 * Mesos's DRF sorter); ranges are offered and accounted like any other resource.
 */
public final class Resources {
  /** An inclusive range of non-negative integers, {@code begin <= end}. */
  public record Range(long begin, long end) {
    public Range {
      if (begin < 0 || end < begin) {
        throw new IllegalArgumentException(
            "invalid range " + begin + "-" + end + ": need 0 <= begin <= end");
      }
    }

    @Override
    public String toString() {
      return begin + "-" + end;
    }
  }

  /** The empty value. */
  public static final Resources EMPTY = new Resources(new TreeMap<>(), new TreeMap<>());

  /** Thousandths per unit: scalars have three decimal digits. */
  public static final long SCALE = 1000;

  /** Letters, digits, '_', '.', '-' and '/' (Kubernetes extended names such as vendor.com/gpu). */
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_./-]+");

  // Every value > 0.
  private final TreeMap<String, Long> scalars;
  // Every array non-empty: begin0, end0, begin1, end1, ... sorted, disjoint, not adjacent.
  private final TreeMap<String, long[]> ranges;

  private Resources(TreeMap<String, Long> scalars, TreeMap<String, long[]> ranges) {
    this.scalars = scalars;
    this.ranges = ranges;
  }

  // ---- Construction ----

  /** A single scalar, rounded to 0.001; zero gives {@link #EMPTY}. */
  public static Resources scalar(String name, double value) {
    checkName(name);
    if (!Double.isFinite(value) || value < 0) {
      throw new IllegalArgumentException(
          "scalar resource '" + name + "' must be a non-negative number, got " + value);
    }
    return ofThousandths(name, toThousandths(BigDecimal.valueOf(value), name));
  }

  /** A single scalar given in thousandths (0.001 units); zero gives {@link #EMPTY}. */
  public static Resources ofThousandths(String name, long thousandths) {
    checkName(name);
    if (thousandths < 0) {
      throw new IllegalArgumentException(
          "scalar resource '" + name + "' must not be negative, got " + thousandths + "/1000");
    }
    TreeMap<String, Long> s = new TreeMap<>();
    if (thousandths > 0) {
      s.put(name, thousandths);
    }
    return of(s, new TreeMap<>());
  }

  /** The given ranges of one resource, merged; no ranges gives {@link #EMPTY}. */
  public static Resources ranges(String name, Range... ranges) {
    return ranges(name, Arrays.asList(ranges));
  }

  /** The given ranges of one resource, merged; no ranges gives {@link #EMPTY}. */
  public static Resources ranges(String name, List<Range> ranges) {
    checkName(name);
    long[] pairs = new long[ranges.size() * 2];
    for (int i = 0; i < ranges.size(); i++) {
      pairs[2 * i] = ranges.get(i).begin();
      pairs[2 * i + 1] = ranges.get(i).end();
    }
    TreeMap<String, long[]> r = new TreeMap<>();
    long[] merged = RangeMath.normalize(pairs);
    if (merged.length > 0) {
      r.put(name, merged);
    }
    return of(new TreeMap<>(), r);
  }

  private static Resources of(TreeMap<String, Long> scalars, TreeMap<String, long[]> ranges) {
    return scalars.isEmpty() && ranges.isEmpty() ? EMPTY : new Resources(scalars, ranges);
  }

  /**
   * Reads {@code name:value} parts separated by {@code ;}: a scalar ({@code cpus:0.5}) or ranges
   * ({@code ports:[31000-31005,31010-31010]}). Whitespace around parts and values is ignored, as
   * are empty parts; a name given twice is summed (Mesos adds the parts up). The empty string is
   * {@link #EMPTY}. Reservations ({@code cpus(role):1}) and sets ({@code {a,b}}) are refused.
   *
   * @throws IllegalArgumentException with a one-line message naming the bad part
   */
  public static Resources parse(String text) {
    Objects.requireNonNull(text, "text");
    Resources result = EMPTY;
    for (String rawPart : text.split(";", -1)) {
      String part = rawPart.strip();
      if (part.isEmpty()) {
        continue;
      }
      try {
        result = result.plus(parsePart(part));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "invalid resources '" + text + "': '" + part + "': " + e.getMessage(), e);
      }
    }
    return result;
  }

  private static Resources parsePart(String part) {
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
    if (value.startsWith("[")) {
      return parseRanges(name, value);
    }
    BigDecimal number;
    try {
      number = new BigDecimal(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + value + "' is not a number");
    }
    if (number.signum() < 0) {
      throw new IllegalArgumentException("'" + value + "' is negative");
    }
    return ofThousandths(name, toThousandths(number, name));
  }

  private static Resources parseRanges(String name, String value) {
    if (!value.endsWith("]")) {
      throw new IllegalArgumentException("ranges must end with ']'");
    }
    String inner = value.substring(1, value.length() - 1).strip();
    List<Range> list = new ArrayList<>();
    if (!inner.isEmpty()) {
      for (String rawItem : inner.split(",", -1)) {
        String item = rawItem.strip();
        int dash = item.indexOf('-');
        if (dash <= 0) {
          throw new IllegalArgumentException("'" + item + "' is not a range begin-end");
        }
        long begin = parseBound(item.substring(0, dash).strip(), item);
        long end = parseBound(item.substring(dash + 1).strip(), item);
        if (end < begin) {
          throw new IllegalArgumentException("range '" + item + "' ends before it begins");
        }
        list.add(new Range(begin, end));
      }
    }
    return ranges(name, list);
  }

  private static long parseBound(String bound, String item) {
    if (bound.isEmpty() || !bound.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw new IllegalArgumentException("'" + item + "' is not a range begin-end");
    }
    try {
      return Long.parseLong(bound);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + bound + "' in '" + item + "' is too large");
    }
  }

  private static long toThousandths(BigDecimal value, String name) {
    BigDecimal scaled = value.setScale(3, RoundingMode.HALF_UP).movePointRight(3);
    try {
      return scaled.longValueExact();
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("'" + name + "' value " + value + " is too large");
    }
  }

  private static void checkName(String name) {
    Objects.requireNonNull(name, "name");
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "resource name '" + name + "' may hold only letters, digits, '_', '.', '-' and '/'");
    }
  }

  // ---- Arithmetic ----

  /** The sum. A name that is a scalar here and ranges there is refused. */
  public Resources plus(Resources other) {
    if (other.isEmpty()) {
      return this;
    }
    if (isEmpty()) {
      return other;
    }
    checkSameKinds(other);
    TreeMap<String, Long> s = new TreeMap<>(scalars);
    for (Map.Entry<String, Long> e : other.scalars.entrySet()) {
      s.merge(
          e.getKey(),
          e.getValue(),
          (a, b) -> {
            try {
              return Math.addExact(a, b);
            } catch (ArithmeticException overflow) {
              throw new IllegalArgumentException("'" + e.getKey() + "' overflows");
            }
          });
    }
    TreeMap<String, long[]> r = new TreeMap<>(ranges);
    for (Map.Entry<String, long[]> e : other.ranges.entrySet()) {
      r.merge(e.getKey(), e.getValue(), RangeMath::union);
    }
    return of(s, r);
  }

  /**
   * The difference. Refuses (naming the first resource short, by name) to subtract more of a scalar
   * than is here, or ranges that are not all here: resources never go negative.
   */
  public Resources minus(Resources other) {
    if (other.isEmpty()) {
      return this;
    }
    String shortfall = shortfall(other);
    if (shortfall != null) {
      throw new IllegalArgumentException(
          "cannot subtract '" + other + "' from '" + this + "': " + shortfall);
    }
    TreeMap<String, Long> s = new TreeMap<>(scalars);
    for (Map.Entry<String, Long> e : other.scalars.entrySet()) {
      long left = s.get(e.getKey()) - e.getValue();
      if (left == 0) {
        s.remove(e.getKey());
      } else {
        s.put(e.getKey(), left);
      }
    }
    TreeMap<String, long[]> r = new TreeMap<>(ranges);
    for (Map.Entry<String, long[]> e : other.ranges.entrySet()) {
      long[] left = RangeMath.subtract(r.get(e.getKey()), e.getValue());
      if (left.length == 0) {
        r.remove(e.getKey());
      } else {
        r.put(e.getKey(), left);
      }
    }
    return of(s, r);
  }

  /** Whether {@code other} could be subtracted from this: every scalar and every range is here. */
  public boolean contains(Resources other) {
    return shortfall(other) == null;
  }

  /** Why {@code other} is not contained in this, or null when it is. */
  private String shortfall(Resources other) {
    for (Map.Entry<String, Long> e : other.scalars.entrySet()) {
      long here = scalars.getOrDefault(e.getKey(), 0L);
      if (here < e.getValue()) {
        return "not enough '"
            + e.getKey()
            + "' ("
            + format(here)
            + " < "
            + format(e.getValue())
            + ")";
      }
    }
    for (Map.Entry<String, long[]> e : other.ranges.entrySet()) {
      long[] here = ranges.getOrDefault(e.getKey(), RangeMath.NONE);
      long[] missing = RangeMath.subtract(e.getValue(), here);
      if (missing.length > 0) {
        return "'" + e.getKey() + "' lacks " + RangeMath.format(missing);
      }
    }
    return null;
  }

  private void checkSameKinds(Resources other) {
    for (String name : other.scalars.keySet()) {
      if (ranges.containsKey(name)) {
        throw new IllegalArgumentException("'" + name + "' is both ranges and a scalar");
      }
    }
    for (String name : other.ranges.keySet()) {
      if (scalars.containsKey(name)) {
        throw new IllegalArgumentException("'" + name + "' is both a scalar and ranges");
      }
    }
  }

  // ---- Reading ----

  public boolean isEmpty() {
    return scalars.isEmpty() && ranges.isEmpty();
  }

  /** The scalar {@code name} (0 when absent). */
  public double scalar(String name) {
    return thousandths(name) / (double) SCALE;
  }

  /** The scalar {@code name} in thousandths, exactly (0 when absent). */
  public long thousandths(String name) {
    return scalars.getOrDefault(name, 0L);
  }

  /** The names of the scalars here, sorted. */
  public SortedSet<String> scalarNames() {
    return Collections.unmodifiableSortedSet(new TreeSet<>(scalars.keySet()));
  }

  /** The names of the ranges here, sorted. */
  public SortedSet<String> rangeNames() {
    return Collections.unmodifiableSortedSet(new TreeSet<>(ranges.keySet()));
  }

  /** The ranges of {@code name}, sorted, disjoint and not adjacent (empty when absent). */
  public List<Range> ranges(String name) {
    long[] pairs = ranges.get(name);
    if (pairs == null) {
      return List.of();
    }
    List<Range> list = new ArrayList<>(pairs.length / 2);
    for (int i = 0; i < pairs.length; i += 2) {
      list.add(new Range(pairs[i], pairs[i + 1]));
    }
    return List.copyOf(list);
  }

  /** The scalars alone (what fair sharing counts), in thousandths, by name. */
  public SortedMap<String, Long> scalarThousandths() {
    return Collections.unmodifiableSortedMap(new TreeMap<>(scalars));
  }

  /** These resources without their ranges: the quantities DRF compares. */
  public Resources scalarsOnly() {
    return ranges.isEmpty() ? this : of(new TreeMap<>(scalars), new TreeMap<>());
  }

  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof Resources r) || !scalars.equals(r.scalars)) {
      return false;
    }
    if (!ranges.keySet().equals(r.ranges.keySet())) {
      return false;
    }
    for (Map.Entry<String, long[]> e : ranges.entrySet()) {
      if (!Arrays.equals(e.getValue(), r.ranges.get(e.getKey()))) {
        return false;
      }
    }
    return true;
  }

  @Override
  public int hashCode() {
    int h = scalars.hashCode();
    for (Map.Entry<String, long[]> e : ranges.entrySet()) {
      h = 31 * h + (e.getKey().hashCode() ^ Arrays.hashCode(e.getValue()));
    }
    return h;
  }

  /**
   * The {@link #parse} syntax, names sorted, no spaces: {@code
   * cpus:0.5;mem:128;ports:[31000-31005,31010-31010]}. Empty is the empty string.
   */
  @Override
  public String toString() {
    TreeMap<String, String> parts = new TreeMap<>();
    scalars.forEach((name, value) -> parts.put(name, name + ":" + format(value)));
    ranges.forEach((name, pairs) -> parts.put(name, name + ":" + RangeMath.format(pairs)));
    return String.join(";", parts.values());
  }

  private static String format(long thousandths) {
    return BigDecimal.valueOf(thousandths, 3).stripTrailingZeros().toPlainString();
  }

  /** Sets of integers as sorted flat arrays of inclusive [begin, end] pairs. */
  private static final class RangeMath {
    static final long[] NONE = new long[0];

    private RangeMath() {}

    /** Sorts and merges overlapping and adjacent pairs. */
    static long[] normalize(long[] pairs) {
      int n = pairs.length / 2;
      if (n == 0) {
        return NONE;
      }
      Integer[] order = new Integer[n];
      for (int i = 0; i < n; i++) {
        order[i] = i;
      }
      Arrays.sort(
          order,
          (x, y) -> {
            int c = Long.compare(pairs[2 * x], pairs[2 * y]);
            return c != 0 ? c : Long.compare(pairs[2 * x + 1], pairs[2 * y + 1]);
          });
      long[] out = new long[pairs.length];
      int k = 0;
      for (int idx : order) {
        long begin = pairs[2 * idx];
        long end = pairs[2 * idx + 1];
        // begin - 1 cannot overflow (begin >= 0); end + 1 could.
        if (k > 0 && begin - 1 <= out[k - 1]) {
          out[k - 1] = Math.max(out[k - 1], end);
        } else {
          out[k++] = begin;
          out[k++] = end;
        }
      }
      return Arrays.copyOf(out, k);
    }

    static long[] union(long[] a, long[] b) {
      long[] all = Arrays.copyOf(a, a.length + b.length);
      System.arraycopy(b, 0, all, a.length, b.length);
      return normalize(all);
    }

    /** {@code a} without every integer in {@code b}; both normalized. */
    static long[] subtract(long[] a, long[] b) {
      long[] out = new long[a.length + b.length];
      int k = 0;
      int j = 0;
      for (int i = 0; i < a.length; i += 2) {
        long begin = a[i];
        long end = a[i + 1];
        // Ranges of b wholly before this one cannot touch the later ones either (a is sorted).
        while (j < b.length && b[j + 1] < begin) {
          j += 2;
        }
        boolean consumed = false;
        for (int jj = j; jj < b.length && b[jj] <= end; jj += 2) {
          if (b[jj] > begin) {
            out[k++] = begin;
            out[k++] = b[jj] - 1;
          }
          if (b[jj + 1] >= end) {
            consumed = true;
            break;
          }
          begin = Math.max(begin, b[jj + 1] + 1); // b[jj + 1] < end: no overflow
        }
        if (!consumed) {
          out[k++] = begin;
          out[k++] = end;
        }
      }
      return k == 0 ? NONE : Arrays.copyOf(out, k);
    }

    static String format(long[] pairs) {
      StringBuilder sb = new StringBuilder("[");
      for (int i = 0; i < pairs.length; i += 2) {
        if (i > 0) {
          sb.append(',');
        }
        sb.append(pairs[i]).append('-').append(pairs[i + 1]);
      }
      return sb.append(']').toString();
    }
  }
}
