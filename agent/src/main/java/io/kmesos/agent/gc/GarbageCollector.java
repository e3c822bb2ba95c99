package io.kmesos.agent.gc;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's garbage collection, as Mesos's {@code GarbageCollector} with {@code --gc_delay} and
 * {@code --gc_disk_headroom}: what is scheduled (a completed run's checkpoints and sandbox, a
 * leftover sandbox) is collected once its deadline passed, and sooner when the work directory's
 * file system fills up.
 *
 * <p>Every {@link Settings#diskWatchInterval()} the collector reads the file system's usage (the
 * fraction of its blocks in use, as Mesos's {@code fs::usage}) and shortens the effective GC delay
 * to {@code max(0, 1 - headroom - usage) * gcDelay}: an item whose deadline minus the shortening
 * ({@code gcDelay - effective delay}) has passed is collected at once, oldest deadline first. With
 * usage at or above {@code 1 - headroom}, everything pending goes.
 *
 * <p>An item is collected by its {@link Collection}, which checks that nothing references it any
 * more (a live run, an executor still running, unacknowledged updates): a referenced item stays
 * pending and is tried again a retry interval later, never collected while referenced. Collections
 * run outside the collector's lock, one at a time on its scheduler's thread.
 */
public final class GarbageCollector implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(GarbageCollector.class);

  /**
   * The agent's GC flags.
   *
   * @param delay {@code --gc-delay}: how long an item is kept after it was scheduled
   * @param headroom {@code --gc-disk-headroom}: the fraction of the file system to keep free, in
   *     [0, 1]
   * @param diskWatchInterval {@code --disk-watch-interval}: how often the usage is checked; zero
   *     for never (tests and embedded agents only: the flag must be positive)
   */
  public record Settings(Duration delay, double headroom, Duration diskWatchInterval) {
    public static final double DEFAULT_HEADROOM = 0.1;
    public static final Duration DEFAULT_DISK_WATCH_INTERVAL = Duration.ofMinutes(1);

    public Settings {
      if (delay == null || delay.isNegative()) {
        throw new IllegalArgumentException("--gc-delay must not be negative, not " + delay);
      }
      if (!(headroom >= 0 && headroom <= 1)) {
        throw new IllegalArgumentException(
            "--gc-disk-headroom must be between 0 and 1, not " + headroom);
      }
      if (diskWatchInterval == null || diskWatchInterval.isNegative()) {
        throw new IllegalArgumentException(
            "--disk-watch-interval must be positive, not " + diskWatchInterval);
      }
    }

    /** From the command line: the interval must be positive. */
    public static Settings flags(Duration delay, double headroom, Duration diskWatchInterval) {
      if (diskWatchInterval != null && diskWatchInterval.isZero()) {
        throw new IllegalArgumentException("--disk-watch-interval must be positive, not 0s");
      }
      return new Settings(delay, headroom, diskWatchInterval);
    }

    /** Only {@code --gc-delay}: no disk watch. */
    public static Settings delayOnly(Duration delay) {
      return new Settings(delay, DEFAULT_HEADROOM, Duration.ZERO);
    }

    /**
     * The effective GC delay at this usage: {@code max(0, 1 - headroom - usage) * delay}, as
     * Mesos's {@code Slave::checkDiskUsage}.
     */
    public Duration effectiveDelay(double usage) {
      double factor = Math.max(0.0, 1.0 - headroom - usage);
      if (factor >= 1.0 || Double.isNaN(usage)) {
        return delay;
      }
      // To the millisecond: 1 - 0.1 - 0.8 is 0.09999999999999998 in doubles.
      return Duration.ofMillis(Math.round(delay.toMillis() * factor));
    }
  }

  /** What a collection came to. */
  public enum Outcome {
    /** Removed (or already gone). */
    COLLECTED,
    /** Still referenced (a live run, a running executor, unacknowledged updates): tried again. */
    REFERENCED,
    /** Failed: dropped, a restarted agent schedules it again from what it finds. */
    FAILED
  }

  /** Removes one item, unless it is still referenced. */
  @FunctionalInterface
  public interface Collection {
    Outcome collect();
  }

  /** The fraction of the work directory's file system in use, in [0, 1]. */
  @FunctionalInterface
  public interface DiskUsage {
    double usage() throws IOException;

    /** {@code (total - free) / total} blocks of {@code dir}'s file system, as Mesos's. */
    static DiskUsage of(Path dir) {
      return () -> {
        FileStore store = Files.getFileStore(dir);
        long total = store.getTotalSpace();
        return total <= 0 ? 0.0 : (double) (total - store.getUnallocatedSpace()) / total;
      };
    }
  }

  /**
   * How long a referenced item waits at least before it is tried again (and the least retry of a GC
   * delay shorter than this): its references go away by themselves (an executor exits, an update is
   * acknowledged).
   */
  public static final Duration MIN_RETRY = Duration.ofSeconds(5);

  private static final class Item {
    final String key;
    final long seq;
    final Collection collection;
    Instant deadline;

    /** Not tried before this, whatever the disk says (a referenced item's retry). */
    Instant notBefore;

    Item(String key, long seq, Collection collection, Instant deadline, Instant notBefore) {
      this.key = key;
      this.seq = seq;
      this.collection = collection;
      this.deadline = deadline;
      this.notBefore = notBefore;
    }
  }

  private static final Comparator<Item> BY_DEADLINE =
      Comparator.<Item, Instant>comparing(i -> i.deadline).thenComparingLong(i -> i.seq);

  private final Settings settings;
  private final Clock clock;
  private final ScheduledExecutorService scheduler;
  private final DiskUsage disk;

  private final Map<String, Item> byKey = new HashMap<>();
  private final TreeSet<Item> byDeadline = new TreeSet<>(BY_DEADLINE);
  private long seq;

  /** {@code gcDelay - effective delay} from the last disk check: how much earlier items are due. */
  private Duration shortening = Duration.ZERO;

  private double usage = Double.NaN;
  private ScheduledFuture<?> timer;
  private Instant timerAt;
  private ScheduledFuture<?> watch;
  private boolean closed;
  private final AtomicLong collected = new AtomicLong();
  private final AtomicLong collectedEarly = new AtomicLong();

  /**
   * @param scheduler where collections and disk checks run: best a thread of their own, since
   *     removing a large sandbox takes a while
   */
  public GarbageCollector(
      Settings settings, Clock clock, ScheduledExecutorService scheduler, DiskUsage disk) {
    this.settings = settings;
    this.clock = clock;
    this.scheduler = scheduler;
    this.disk = disk;
  }

  public Settings settings() {
    return settings;
  }

  /** Starts checking the disk usage every {@link Settings#diskWatchInterval()} (none if zero). */
  public synchronized GarbageCollector start() {
    if (settings.diskWatchInterval().isZero() || watch != null) {
      return this;
    }
    long every = Math.max(1, settings.diskWatchInterval().toMillis());
    try {
      watch =
          scheduler.scheduleWithFixedDelay(
              this::checkDiskUsageQuietly, 0, every, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // stopping
    }
    return this;
  }

  private void checkDiskUsageQuietly() {
    try {
      checkDiskUsage();
    } catch (RuntimeException e) {
      LOG.warn("garbage collection: the disk check failed: {}", e.toString());
    }
  }

  /**
   * Schedules {@code key} for collection {@code delay} from now. An item already pending under the
   * key keeps the earlier of the two deadlines.
   *
   * @return whether the key was not pending yet
   */
  public boolean schedule(String key, Duration delay, Collection collection) {
    Instant now = clock.instant();
    Instant deadline = now.plus(delay.isNegative() ? Duration.ZERO : delay);
    synchronized (this) {
      if (closed) {
        return false;
      }
      Item existing = byKey.get(key);
      if (existing != null) {
        if (deadline.isBefore(existing.deadline)) {
          byDeadline.remove(existing);
          existing.deadline = deadline;
          byDeadline.add(existing);
          arm();
        }
        return false;
      }
      Item item = new Item(key, seq++, collection, deadline, now);
      byKey.put(key, item);
      byDeadline.add(item);
      arm();
      return true;
    }
  }

  /** Whether {@code key} is pending. */
  public synchronized boolean pending(String key) {
    return byKey.containsKey(key);
  }

  /** How many items are pending. */
  public synchronized int pending() {
    return byKey.size();
  }

  /** Items collected since the start. */
  public long collected() {
    return collected.get();
  }

  /**
   * Of those, how many before their own deadline: the disk's usage shortens the delay (as Mesos's
   * {@code gc_delay * max(0, 1 - headroom - usage)}, by at least the headroom's share).
   */
  public long collectedEarly() {
    return collectedEarly.get();
  }

  /** The usage at the last disk check (NaN before the first). */
  public synchronized double usage() {
    return usage;
  }

  /** The GC delay in effect after the last disk check. */
  public synchronized Duration effectiveDelay() {
    return settings.delay().minus(shortening);
  }

  /**
   * When an item becomes due: its deadline brought forward by the shortening, not before notBefore.
   */
  private Instant due(Item item) {
    Instant due = item.deadline.minus(shortening);
    return due.isBefore(item.notBefore) ? item.notBefore : due;
  }

  /** Reads the disk usage, shortens the effective delay accordingly and collects what is due. */
  public void checkDiskUsage() {
    double now;
    try {
      now = disk.usage();
    } catch (IOException | RuntimeException e) {
      LOG.warn("garbage collection: cannot read the work directory's disk usage: {}", e.toString());
      return;
    }
    Duration effective = settings.effectiveDelay(now);
    synchronized (this) {
      double previous = usage;
      usage = now;
      shortening = settings.delay().minus(effective);
      // Logged at the first check and whenever the usage moved by a percentage point since.
      if (Double.isNaN(previous) || Math.abs(now - previous) >= 0.01) {
        String line =
            "garbage collection: the work directory's file system is {}% used (headroom {}%):"
                + " GC delay {} of --gc-delay {}, {} pending";
        Object[] args = {
          String.format("%.1f", now * 100),
          String.format("%.0f", settings.headroom() * 100),
          effective.withNanos(0),
          settings.delay(),
          byKey.size()
        };
        if (effective.isZero() && !settings.delay().isZero()) {
          LOG.warn(line + ": everything pending that nothing uses is removed now", args);
        } else {
          LOG.info(line, args);
        }
      }
    }
    runDue();
  }

  /**
   * Collects every item that is due now, oldest deadline first; a referenced one is tried again
   * later. Runs collections outside the lock.
   */
  public void runDue() {
    synchronized (running) {
      runDueAlone();
    }
  }

  /** Held while collections run: one at a time, whichever thread calls. */
  private final Object running = new Object();

  private void runDueAlone() {
    while (true) {
      List<Item> due = new ArrayList<>();
      Instant now = clock.instant();
      synchronized (this) {
        if (closed) {
          return;
        }
        for (Item item : byDeadline) {
          if (!due(item).isAfter(now)) {
            due.add(item);
          }
          if (due.size() >= 256) {
            break;
          }
        }
        if (due.isEmpty()) {
          arm();
          return;
        }
        // Still listed as pending (a schedule of the same key meanwhile keeps one item).
      }
      for (Item item : due) {
        Outcome outcome;
        try {
          outcome = item.collection.collect();
        } catch (RuntimeException e) {
          LOG.warn("garbage collection of {} failed: {}", item.key, e.toString());
          outcome = Outcome.FAILED;
        }
        Instant after = clock.instant();
        synchronized (this) {
          byDeadline.remove(item);
          if (outcome == Outcome.REFERENCED && !closed) {
            Duration retry =
                settings.delay().compareTo(MIN_RETRY) > 0 ? settings.delay() : MIN_RETRY;
            item.deadline = after.plus(retry);
            item.notBefore = after.plus(MIN_RETRY);
            byDeadline.add(item);
          } else {
            byKey.remove(item.key);
            if (outcome == Outcome.COLLECTED) {
              collected.incrementAndGet();
              if (item.deadline.isAfter(after)) {
                collectedEarly.incrementAndGet();
              }
            }
          }
        }
      }
    }
  }

  /** Arms the one timer for the earliest due item. Under the lock. */
  private void arm() {
    if (closed || byDeadline.isEmpty()) {
      return;
    }
    Instant earliest = null;
    // By deadline: the first is the first due, except for items held back by notBefore; no item
    // whose shortened deadline is past the earliest found can come before it.
    for (Item item : byDeadline) {
      if (earliest != null && !item.deadline.minus(shortening).isBefore(earliest)) {
        break;
      }
      Instant due = due(item);
      if (earliest == null || due.isBefore(earliest)) {
        earliest = due;
      }
    }
    if (timer != null && !timer.isDone() && timerAt != null && !earliest.isBefore(timerAt)) {
      return; // the armed timer comes first
    }
    if (timer != null) {
      timer.cancel(false);
    }
    long millis = Math.max(0, Duration.between(clock.instant(), earliest).toMillis());
    timerAt = earliest;
    try {
      timer = scheduler.schedule(this::fire, millis, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      timer = null; // stopping: the next agent schedules it again from what it finds
    }
  }

  private void fire() {
    synchronized (this) {
      timer = null;
      timerAt = null;
    }
    runDue();
  }

  /** Stops: nothing more is collected (a restarted agent schedules it again). */
  @Override
  public synchronized void close() {
    closed = true;
    if (timer != null) {
      timer.cancel(false);
    }
    if (watch != null) {
      watch.cancel(false);
    }
    byKey.clear();
    byDeadline.clear();
  }
}
