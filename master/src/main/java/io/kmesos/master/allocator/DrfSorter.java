package io.kmesos.master.allocator;

import io.kmesos.api.resources.Resources;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.ConcurrentModificationException;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Mesos's hierarchical dominant resource fairness sorter (src/master/allocator/sorter/drf/): it
 * orders clients (roles, or the frameworks of one role) by who should be offered resources next.
 *
 * <p>A client is a path such as {@code eng/web}; the paths form a tree. A node's <i>dominant
 * share</i> is the largest, over the scalar resources of the pool, of its allocation divided by the
 * pool's total of that resource (ranges do not count; names given at construction can be excluded,
 * Mesos's {@code --fair_sharing_excluded_resource_names}), divided by the node's weight (1.0 unless
 * {@link #updateWeight set}). An inner node's allocation is that of its whole subtree.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>{@link #sort} lists every active client exactly once, and nothing else. It walks the tree
 *       from the root, at each level in increasing order of (dominant share, number of allocations
 *       made, path): siblings are compared by their subtrees' shares, so a role with a small share
 *       whose parent has a large one still waits behind the parent's less-served siblings. The
 *       allocation count (as Mesos's) spreads offers among clients of equal share; the path makes
 *       the order total, so it never depends on insertion order or hashing.
 *   <li>A client that also has children ({@code a} beside {@code a/b}) competes among its children
 *       as the leaf {@code a/.}, with its own allocation and weight 1 (as Mesos's virtual leaf,
 *       whose path carries the {@code .}); its weight applies to the subtree {@code a}.
 *   <li>Weights belong to paths, not clients: a weight may be set before its role exists, and it
 *       stays when the role goes, as in Mesos.
 *   <li>Allocations never go negative: {@link #unallocated} refuses more than the client holds.
 *   <li>Shares are computed from exact thousandths in plain double arithmetic, so the same calls
 *       give the same order on every JVM (no clock, no randomness, no hash order).
 * </ul>
 *
 * Unlike Mesos, {@link #add} makes a client active at once ({@link #deactivate} takes it out of the
 * order), and a client's allocation is kept as scalar quantities summed over agents, not per agent:
 * the allocator keeps the per-agent books. Only scalars can be summed across agents (the same port
 * range on two agents is two resources, but one range in a sum), and only scalars count in shares,
 * as Mesos's sorter keeps {@code ResourceQuantities} for its shares.
 *
 * <p>Cost: the allocator asks for the order once per agent and usually takes only its first
 * clients, and each charge moves one client. So every inner node keeps its children in DRF order (a
 * sorted set keyed as {@link #sort} compares them), and a change moves only the nodes it touches:
 * the client and its ancestors, O(depth &middot; log n). {@link #cursor} walks that order lazily,
 * so reading the first k clients costs O(depth &middot; log n + k) instead of a sort of all of
 * them. A change of the pool changes every share: the order is rebuilt, once, when next read.
 */
public final class DrfSorter {
  private static final String VIRTUAL_LEAF = ".";

  /**
   * One sibling as {@link #sort} compares it: a node (a client leaf, or a subtree) in its parent's
   * order, or a node's virtual leaf in the node's own order. Its key is fixed while it is in a
   * sorted set (the set finds it by the key): to change the key, take it out, then put it back.
   */
  private static final class Slot {
    final Node node;
    final boolean virtualLeaf;
    final String path;
    double share;
    long count;
    boolean placed;

    Slot(Node node, boolean virtualLeaf) {
      this.node = node;
      this.virtualLeaf = virtualLeaf;
      this.path = virtualLeaf ? node.path + "/" + VIRTUAL_LEAF : node.path;
    }

    /** Listed as a client when reached (rather than walked into). */
    boolean isLeaf() {
      return virtualLeaf || node.children.isEmpty();
    }
  }

  // Total: two slots never share a path (a virtual leaf's ends in "/.", which no client's can).
  private static final Comparator<Slot> DRF_ORDER =
      (a, b) -> {
        int c = Double.compare(a.share, b.share);
        if (c == 0) {
          c = Long.compare(a.count, b.count);
        }
        return c != 0 ? c : a.path.compareTo(b.path);
      };

  private static final class Node {
    final String name;
    final String path;
    final Node parent;
    final TreeMap<String, Node> children = new TreeMap<>();
    boolean client;
    boolean active;
    // Scalars in thousandths, every value > 0, updated in place: immutable Resources would copy
    // both maps at every charge, and the allocator charges one client per agent.
    final HashMap<String, Long> own = new HashMap<>();
    long ownCount;
    final HashMap<String, Long> subtree = new HashMap<>();
    long subtreeCount;
    // This node among its siblings, in its parent's order.
    final Slot slot;
    // This node's own allocation among its children, in its own order (only while it has some).
    final Slot virtualSlot;
    // The children and the virtual leaf that sort() lists, in DRF order: the slots placed.
    final TreeSet<Slot> order = new TreeSet<>(DRF_ORDER);

    Node(String name, Node parent) {
      this.name = name;
      this.parent = parent;
      this.path = parent == null ? "" : parent.parent == null ? name : parent.path + "/" + name;
      this.slot = new Slot(this, false);
      this.virtualSlot = new Slot(this, true);
    }
  }

  private final Set<String> excludedResourceNames;
  private final Node root = new Node("", null);
  private final Map<String, Node> clients = new HashMap<>();
  private final Map<String, Double> weights = new HashMap<>();
  private Resources total = Resources.EMPTY;
  // The pool's scalars that count in shares, in thousandths: what every share divides by.
  private Map<String, Long> counted = Map.of();
  // False after the pool changed (every share did): the slots are placed again when next read.
  // Until then changes only update the books.
  private boolean ordered = true;
  private List<String> sorted; // null when something changed since the last sort
  // Bumped by every change that may move a client: a cursor made before it is stale.
  private long changes;

  public DrfSorter() {
    this(Set.of());
  }

  /**
   * @param excludedResourceNames resources that do not count in shares (still allocated normally)
   */
  public DrfSorter(Set<String> excludedResourceNames) {
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
    // New inner nodes join their parents' orders, and a leaf that got a child becomes a subtree.
    replaceUp(node);
    changed();
  }

  /**
   * Removes a client. What it still holds stops counting in its ancestors' shares; inner nodes left
   * with no client below them go too.
   */
  public void remove(String client) {
    Node node = find(client);
    for (Node n = node; n != root; n = n.parent) {
      subtract(n.subtree, node.own);
    }
    node.client = false;
    node.active = false;
    node.own.clear();
    node.ownCount = 0;
    clients.remove(client);
    Node n = node;
    for (; n != root && !n.client && n.children.isEmpty(); n = n.parent) {
      unplace(n.slot, n.parent);
      n.parent.children.remove(n.name);
    }
    replaceUp(n);
    changed();
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
    setActive(find(client), true);
  }

  /** Keeps a client's allocation but leaves it out of {@link #sort} (Mesos: suppress). */
  public void deactivate(String client) {
    setActive(find(client), false);
  }

  private void setActive(Node node, boolean active) {
    node.active = active;
    place(node);
    placeVirtual(node);
    changed();
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
    Node node = root;
    for (String segment : path.split("/")) {
      node = node.children.get(segment);
      if (node == null) {
        return; // no such node yet: its slot takes the weight when it is made
      }
    }
    place(node);
    changed();
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
    Map<String, Long> quantities = resources.scalarThousandths();
    for (Node n = node; n != root; n = n.parent) {
      checkNoOverflow(n.subtree, quantities); // the subtree holds the client's own: it checks both
    }
    add(node.own, quantities);
    node.ownCount++;
    for (Node n = node; n != root; n = n.parent) {
      add(n.subtree, quantities);
      n.subtreeCount++;
    }
    replaceUp(node);
    changed();
  }

  /** Records resources a client gave back; refuses more scalars than it holds, naming which. */
  public void unallocated(String client, Resources resources) {
    Node node = find(client);
    if (resources.isEmpty()) {
      return;
    }
    Map<String, Long> quantities = resources.scalarThousandths();
    for (Map.Entry<String, Long> q : quantities.entrySet()) {
      if (node.own.getOrDefault(q.getKey(), 0L) < q.getValue()) {
        try {
          resourcesOf(node.own).minus(resources.scalarsOnly()); // names the resource that is short
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(
              "client '" + client + "' does not hold what it gives back: " + e.getMessage(), e);
        }
      }
    }
    subtract(node.own, quantities);
    for (Node n = node; n != root; n = n.parent) {
      subtract(n.subtree, quantities);
    }
    replaceUp(node);
    changed();
  }

  /** The scalars the client itself holds (not its children). */
  public Resources allocation(String client) {
    return resourcesOf(find(client).own);
  }

  private static Resources resourcesOf(Map<String, Long> thousandths) {
    Resources out = Resources.EMPTY;
    for (Map.Entry<String, Long> e : thousandths.entrySet()) {
      out = out.plus(Resources.ofThousandths(e.getKey(), e.getValue()));
    }
    return out;
  }

  private static void checkNoOverflow(Map<String, Long> to, Map<String, Long> quantities) {
    for (Map.Entry<String, Long> q : quantities.entrySet()) {
      try {
        Math.addExact(to.getOrDefault(q.getKey(), 0L), q.getValue());
      } catch (ArithmeticException overflow) {
        throw new IllegalArgumentException("'" + q.getKey() + "' overflows");
      }
    }
  }

  private static void add(Map<String, Long> to, Map<String, Long> quantities) {
    for (Map.Entry<String, Long> q : quantities.entrySet()) {
      to.merge(q.getKey(), q.getValue(), Long::sum);
    }
  }

  /** Subtracts what is known to be there (the books never go negative), dropping zeros. */
  private static void subtract(Map<String, Long> from, Map<String, Long> quantities) {
    for (Map.Entry<String, Long> q : quantities.entrySet()) {
      long left = from.get(q.getKey()) - q.getValue();
      if (left == 0) {
        from.remove(q.getKey());
      } else {
        from.put(q.getKey(), left);
      }
    }
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
    // Every share changed: re-placing each slot now would cost a sort per agent that joins.
    ordered = false;
    changed();
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
      cursor().forEachRemaining(out::add);
      sorted = List.copyOf(out);
    }
    return sorted;
  }

  /**
   * The order {@link #sort} lists, read lazily: the first k clients cost O(depth &middot; log n +
   * k), not a walk of all of them. The sorter must not change while the cursor is still read,
   * unless it was {@link Cursor#detach detached} first: a cursor that would then read the changed
   * order throws {@link ConcurrentModificationException} rather than mix two orders.
   */
  public Cursor cursor() {
    return new Cursor();
  }

  /**
   * A walk of the order as it was when the cursor was made: lazily over the sorter's sorted sets,
   * or, once {@link #detach detached}, over a copy of what it had left.
   */
  public final class Cursor implements Iterator<String> {
    private final long at = changes;
    // The sets being walked, innermost first; null once detached or when sort() had it listed.
    private ArrayDeque<Iterator<Slot>> stack;
    private List<String> rest; // what is left, when copied
    private int restIndex;
    private String next; // the next client, found by hasNext()

    private Cursor() {
      if (sorted != null) {
        rest = sorted;
      } else {
        ensureOrdered();
        stack = new ArrayDeque<>();
        stack.push(root.order.iterator());
      }
    }

    @Override
    public boolean hasNext() {
      if (next != null) {
        return true;
      }
      if (stack == null) {
        if (restIndex < rest.size()) {
          next = rest.get(restIndex++);
        }
        return next != null;
      }
      checkUnchanged();
      while (!stack.isEmpty()) {
        Iterator<Slot> level = stack.peek();
        if (!level.hasNext()) {
          stack.pop();
          continue;
        }
        Slot slot = level.next();
        if (slot.isLeaf()) {
          next = slot.node.path;
          return true;
        }
        stack.push(slot.node.order.iterator());
      }
      return false;
    }

    @Override
    public String next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      String client = next;
      next = null;
      return client;
    }

    /**
     * Copies what is left of the walk (O(clients left)), so that the sorter may change while the
     * rest is read: it is still the order of when the cursor was made, as {@link #sort}'s list
     * would have been.
     */
    public void detach() {
      if (stack == null) {
        return; // already a copy, or sort()'s list, which no change alters
      }
      List<String> left = new ArrayList<>();
      if (next != null) {
        left.add(next);
        next = null;
      }
      while (hasNext()) {
        left.add(next());
      }
      stack = null;
      rest = left;
      restIndex = 0;
    }

    private void checkUnchanged() {
      if (changes != at) {
        throw new ConcurrentModificationException(
            "the sorter changed while a cursor walked it; detach the cursor first");
      }
    }
  }

  private void changed() {
    sorted = null;
    changes++;
  }

  // ---- Keeping the order ----

  /** Places the slots of the node and of its ancestors again (their books changed). */
  private void replaceUp(Node node) {
    for (Node n = node; n != root; n = n.parent) {
      place(n);
      placeVirtual(n);
    }
  }

  /**
   * Puts the node's slot where it now belongs in its parent's order, or leaves it out: a childless
   * client competes with its own share over its weight while active; a subtree always competes,
   * with its subtree's share over its weight.
   */
  private void place(Node node) {
    if (!ordered) {
      return;
    }
    Slot slot = node.slot;
    unplace(slot, node.parent);
    if (node.children.isEmpty()) {
      if (node.active) {
        put(slot, dominantShare(node.own) / weight(node.path), node.ownCount, node.parent);
      }
    } else {
      put(slot, dominantShare(node.subtree) / weight(node.path), node.subtreeCount, node.parent);
    }
  }

  /** The same for a node's virtual leaf: there while the node is an active client with children. */
  private void placeVirtual(Node node) {
    if (!ordered) {
      return;
    }
    Slot slot = node.virtualSlot;
    unplace(slot, node);
    if (node.client && node.active && !node.children.isEmpty()) {
      put(slot, dominantShare(node.own), node.ownCount, node);
    }
  }

  private static void put(Slot slot, double share, long count, Node in) {
    slot.share = share;
    slot.count = count;
    in.order.add(slot);
    slot.placed = true;
  }

  private static void unplace(Slot slot, Node in) {
    if (slot.placed) {
      if (!in.order.remove(slot)) {
        throw new IllegalStateException("slot '" + slot.path + "' lost from its order");
      }
      slot.placed = false;
    }
  }

  /** After the pool changed: every slot placed again, with its new share. */
  private void ensureOrdered() {
    if (!ordered) {
      ordered = true;
      unplaceAll(root);
      placeAll(root);
    }
  }

  private static void unplaceAll(Node node) {
    node.order.clear();
    node.slot.placed = false;
    node.virtualSlot.placed = false;
    for (Node child : node.children.values()) {
      unplaceAll(child);
    }
  }

  private void placeAll(Node node) {
    for (Node child : node.children.values()) {
      place(child);
      placeVirtual(child);
      placeAll(child);
    }
  }

  private double dominantShare(Map<String, Long> allocation) {
    double share = 0;
    for (Map.Entry<String, Long> t : counted.entrySet()) {
      Long allocated = allocation.get(t.getKey());
      if (allocated != null && allocated > 0) {
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
