package io.kmesos.master.allocator;

import io.kmesos.api.resources.Resources;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * {@link DrfSorter} as it was before it kept its order incrementally: every {@link #sort} after a
 * change rebuilds and sorts each level of the tree. Straightforward enough to trust; the
 * differential tests hold the real sorter to it.
 */
final class ReferenceDrfSorter {
  private static final String VIRTUAL_LEAF = ".";

  private static final class Node {
    final String name;
    final String path;
    final Node parent;
    final TreeMap<String, Node> children = new TreeMap<>();
    boolean client;
    boolean active;
    Resources own = Resources.EMPTY;
    long ownCount;
    Resources subtree = Resources.EMPTY;
    long subtreeCount;
    // Dominant shares of own and subtree, cached: a sort per agent in every allocation cycle would
    // otherwise recompute every sibling's share although one charge changes one client's. Valid
    // while the matching *SharePool equals the sorter's pool generation.
    double ownShare;
    long ownSharePool = -1;
    double subtreeShare;
    long subtreeSharePool = -1;

    void ownChanged() {
      ownSharePool = -1;
    }

    void subtreeChanged() {
      subtreeSharePool = -1;
    }

    Node(String name, Node parent) {
      this.name = name;
      this.parent = parent;
      this.path = parent == null ? "" : parent.parent == null ? name : parent.path + "/" + name;
    }
  }

  /** One sibling as {@link #sort} compares it: a client leaf, a virtual leaf, or a subtree. */
  private record Entry(Node node, boolean virtualLeaf, double share, long count, String path) {}

  private static final Comparator<Entry> DRF_ORDER =
      Comparator.comparingDouble(Entry::share)
          .thenComparingLong(Entry::count)
          .thenComparing(Entry::path);

  private final Set<String> excludedResourceNames;
  private final Node root = new Node("", null);
  private final Map<String, Node> clients = new HashMap<>();
  private final Map<String, Double> weights = new HashMap<>();
  private Resources total = Resources.EMPTY;
  // The pool's scalars that count in shares, in thousandths: what every share divides by.
  private Map<String, Long> counted = Map.of();
  // Bumped whenever the pool changes: every cached share is relative to the pool it was made with.
  private long poolGeneration;
  private List<String> sorted; // null when something changed since the last sort

  ReferenceDrfSorter() {
    this(Set.of());
  }

  /**
   * @param excludedResourceNames resources that do not count in shares (still allocated normally)
   */
  ReferenceDrfSorter(Set<String> excludedResourceNames) {
    this.excludedResourceNames = Set.copyOf(excludedResourceNames);
  }

  // ---- Clients ----

  /** Adds an active client with no allocation. */
  public void add(String client) {
    checkPath(client);
    if (clients.containsKey(client)) {
      throw new IllegalArgumentException("client '" + client + "' is already in the sorter");
    }
    Node node = root;
    for (String segment : client.split("/")) {
      Node parent = node;
      node = parent.children.computeIfAbsent(segment, s -> new Node(s, parent));
    }
    node.client = true;
    node.active = true;
    clients.put(client, node);
    sorted = null;
  }

  /**
   * Removes a client. What it still holds stops counting in its ancestors' shares; inner nodes left
   * with no client below them go too.
   */
  public void remove(String client) {
    Node node = find(client);
    for (Node n = node; n != root; n = n.parent) {
      n.subtree = n.subtree.minus(node.own);
      n.subtreeChanged();
    }
    node.ownChanged();
    node.client = false;
    node.active = false;
    node.own = Resources.EMPTY;
    node.ownCount = 0;
    clients.remove(client);
    for (Node n = node; n != root && !n.client && n.children.isEmpty(); n = n.parent) {
      n.parent.children.remove(n.name);
    }
    sorted = null;
  }

  public boolean contains(String client) {
    return clients.containsKey(client);
  }

  /** The number of clients. */
  public int count() {
    return clients.size();
  }

  /** Puts a client back in the order (Mesos: a framework revives, or reconnects). */
  public void activate(String client) {
    find(client).active = true;
    sorted = null;
  }

  /** Keeps a client's allocation but leaves it out of {@link #sort} (Mesos: suppress). */
  public void deactivate(String client) {
    find(client).active = false;
    sorted = null;
  }

  public boolean isActive(String client) {
    return find(client).active;
  }

  // ---- Weights ----

  /**
   * Sets the weight of a path (a client or an inner node, present or not): its subtree's share is
   * divided by it. 1.0 is the default.
   */
  public void updateWeight(String path, double weight) {
    checkPath(path);
    if (!(weight > 0) || Double.isInfinite(weight)) {
      throw new IllegalArgumentException(
          "weight of '" + path + "' must be a positive number, got " + weight);
    }
    weights.put(path, weight);
    sorted = null;
  }

  public double weight(String path) {
    return weights.getOrDefault(path, 1.0);
  }

  // ---- Allocations ----

  /** Records resources given to (or offered to) a client: their scalars (see the class comment). */
  public void allocated(String client, Resources resources) {
    Node node = find(client);
    if (resources.isEmpty()) {
      return;
    }
    Resources quantities = resources.scalarsOnly();
    node.own = node.own.plus(quantities);
    node.ownCount++;
    node.ownChanged();
    for (Node n = node; n != root; n = n.parent) {
      n.subtree = n.subtree.plus(quantities);
      n.subtreeCount++;
      n.subtreeChanged();
    }
    sorted = null;
  }

  /** Records resources a client gave back; refuses more scalars than it holds, naming which. */
  public void unallocated(String client, Resources resources) {
    Node node = find(client);
    if (resources.isEmpty()) {
      return;
    }
    Resources quantities = resources.scalarsOnly();
    try {
      node.own = node.own.minus(quantities); // names the resource that is short
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "client '" + client + "' does not hold what it gives back: " + e.getMessage(), e);
    }
    node.ownChanged();
    for (Node n = node; n != root; n = n.parent) {
      n.subtree = n.subtree.minus(quantities);
      n.subtreeChanged();
    }
    sorted = null;
  }

  /** The scalars the client itself holds (not its children). */
  public Resources allocation(String client) {
    return find(client).own;
  }

  // ---- The pool ----

  /** Adds to the pool the shares are relative to (an agent joined). Only scalars count. */
  public void addTotal(Resources resources) {
    setTotal(total.plus(resources.scalarsOnly()));
  }

  /** Removes from the pool (an agent left); refuses more than the pool holds. */
  public void removeTotal(Resources resources) {
    setTotal(total.minus(resources.scalarsOnly()));
  }

  private void setTotal(Resources newTotal) {
    total = newTotal;
    Map<String, Long> c = new TreeMap<>(newTotal.scalarThousandths());
    c.keySet().removeAll(excludedResourceNames);
    counted = c;
    poolGeneration++;
    sorted = null;
  }

  /** The scalars of the pool. */
  public Resources total() {
    return total;
  }

  // ---- Order ----

  /**
   * The client's own dominant share divided by its weight, as {@link #sort} compares it among its
   * siblings (a client with children: its virtual leaf's, whose weight is 1).
   */
  public double share(String client) {
    Node node = find(client);
    return node.children.isEmpty()
        ? dominantShare(node.own) / weight(node.path)
        : dominantShare(node.own);
  }

  /** The active clients, in the order they should be offered resources. */
  public List<String> sort() {
    if (sorted == null) {
      List<String> out = new ArrayList<>(clients.size());
      walk(root, out);
      sorted = List.copyOf(out);
    }
    return sorted;
  }

  private void walk(Node node, List<String> out) {
    List<Entry> entries = new ArrayList<>(node.children.size() + 1);
    if (node != root && node.client && node.active) {
      // Only reached for a client with children: a childless client is listed by its parent.
      entries.add(
          new Entry(node, true, ownShare(node), node.ownCount, node.path + "/" + VIRTUAL_LEAF));
    }
    for (Node child : node.children.values()) {
      if (child.children.isEmpty()) {
        if (child.active) {
          entries.add(
              new Entry(
                  child, false, ownShare(child) / weight(child.path), child.ownCount, child.path));
        }
      } else {
        entries.add(
            new Entry(
                child,
                false,
                subtreeShare(child) / weight(child.path),
                child.subtreeCount,
                child.path));
      }
    }
    entries.sort(DRF_ORDER);
    for (Entry e : entries) {
      if (e.virtualLeaf() || e.node().children.isEmpty()) {
        out.add(e.node().path);
      } else {
        walk(e.node(), out);
      }
    }
  }

  private double ownShare(Node node) {
    if (node.ownSharePool != poolGeneration) {
      node.ownShare = dominantShare(node.own);
      node.ownSharePool = poolGeneration;
    }
    return node.ownShare;
  }

  private double subtreeShare(Node node) {
    if (node.subtreeSharePool != poolGeneration) {
      node.subtreeShare = dominantShare(node.subtree);
      node.subtreeSharePool = poolGeneration;
    }
    return node.subtreeShare;
  }

  private double dominantShare(Resources allocation) {
    double share = 0;
    for (Map.Entry<String, Long> t : counted.entrySet()) {
      long allocated = allocation.thousandths(t.getKey());
      if (allocated > 0) {
        share = Math.max(share, (double) allocated / t.getValue());
      }
    }
    return share;
  }

  // ---- Checks ----

  private Node find(String client) {
    Node node = clients.get(Objects.requireNonNull(client, "client"));
    if (node == null) {
      throw new IllegalArgumentException("no client '" + client + "' in the sorter");
    }
    return node;
  }

  /** Non-empty '/'-separated segments, none "." or ".." (the virtual leaf's name). */
  static void checkPath(String path) {
    Objects.requireNonNull(path, "path");
    if (path.isEmpty()) {
      throw new IllegalArgumentException("empty path");
    }
    for (String segment : path.split("/", -1)) {
      if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
        throw new IllegalArgumentException(
            "invalid path '" + path + "': segments must be non-empty and not '.' or '..'");
      }
    }
  }

  /** The paths in the tree, inner nodes included (for tests). */
  TreeSet<String> nodePaths() {
    TreeSet<String> paths = new TreeSet<>();
    collect(root, paths);
    return paths;
  }

  private static void collect(Node node, TreeSet<String> paths) {
    for (Node child : node.children.values()) {
      paths.add(child.path);
      collect(child, paths);
    }
  }
}
