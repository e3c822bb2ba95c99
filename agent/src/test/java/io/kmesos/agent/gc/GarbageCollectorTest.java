package io.kmesos.agent.gc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kmesos.agent.gc.GarbageCollector.Outcome;
import io.kmesos.agent.gc.GarbageCollector.Settings;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The collector alone, on a clock the test moves and a disk usage the test sets: the delay
 * arithmetic of {@code --gc-disk-headroom}, what is due when, the order, and that a referenced item
 * is never collected.
 */
class GarbageCollectorTest {
  static final Duration DAY = Duration.ofDays(1);

  /** A clock the test moves. */
  static final class TestClock extends Clock {
    volatile Instant now = Instant.parse("2026-12-06T00:00:00Z");

    void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  final TestClock clock = new TestClock();

  /** The collector's timer: armed for far deadlines the test never waits for. */
  final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();

  volatile double usage = 0.5;
  final List<String> collected = new CopyOnWriteArrayList<>();

  @AfterEach
  void stop() {
    scheduler.shutdownNow();
  }

  GarbageCollector collector(Duration delay, double headroom) {
    return new GarbageCollector(
        new Settings(delay, headroom, Duration.ofMinutes(1)), clock, scheduler, () -> usage);
  }

  GarbageCollector.Collection recording(String name) {
    return () -> {
      collected.add(name);
      return Outcome.COLLECTED;
    };
  }

  @Test
  void theEffectiveDelayIsTheDelayTimesWhatIsLeftAboveTheHeadroom() {
    Settings s = new Settings(Duration.ofDays(10), 0.1, Duration.ofMinutes(1));
    assertThat(s.effectiveDelay(0.0)).isEqualTo(Duration.ofDays(9));
    assertThat(s.effectiveDelay(0.5)).isEqualTo(Duration.ofDays(4));
    assertThat(s.effectiveDelay(0.85)).isEqualTo(Duration.ofHours(12));
    assertThat(s.effectiveDelay(0.9)).isEqualTo(Duration.ZERO);
    assertThat(s.effectiveDelay(1.0)).isEqualTo(Duration.ZERO);
    Settings none = new Settings(Duration.ofDays(10), 0.0, Duration.ofMinutes(1));
    assertThat(none.effectiveDelay(0.0)).isEqualTo(Duration.ofDays(10));
    assertThat(none.effectiveDelay(0.25)).isEqualTo(Duration.ofHours(180));
    assertThat(new Settings(Duration.ZERO, 0.1, Duration.ZERO).effectiveDelay(0.99))
        .isEqualTo(Duration.ZERO);
    assertThat(s.effectiveDelay(Double.NaN)).as("no reading yet").isEqualTo(Duration.ofDays(10));
  }

  @Test
  void badFlagsAreRefusedWithTheFlagNamed() {
    assertThatThrownBy(() -> Settings.flags(Duration.ofSeconds(-1), 0.1, Duration.ofMinutes(1)))
        .hasMessage("--gc-delay must not be negative, not PT-1S");
    assertThatThrownBy(() -> Settings.flags(DAY, 1.5, Duration.ofMinutes(1)))
        .hasMessage("--gc-disk-headroom must be between 0 and 1, not 1.5");
    assertThatThrownBy(() -> Settings.flags(DAY, -0.1, Duration.ofMinutes(1)))
        .hasMessage("--gc-disk-headroom must be between 0 and 1, not -0.1");
    assertThatThrownBy(() -> Settings.flags(DAY, Double.NaN, Duration.ofMinutes(1)))
        .hasMessage("--gc-disk-headroom must be between 0 and 1, not NaN");
    assertThatThrownBy(() -> Settings.flags(DAY, 0.1, Duration.ZERO))
        .hasMessage("--disk-watch-interval must be positive, not 0s");
    assertThatThrownBy(() -> Settings.flags(DAY, 0.1, Duration.ofSeconds(-5)))
        .hasMessage("--disk-watch-interval must be positive, not PT-5S");
    assertThat(Settings.flags(DAY, 0.0, Duration.ofSeconds(1)).headroom()).isZero();
    assertThat(Settings.flags(DAY, 1.0, Duration.ofSeconds(1)).headroom()).isEqualTo(1.0);
  }

  @Test
  void anItemIsCollectedOnceItsDeadlinePassedAndNotBefore() {
    GarbageCollector gc = collector(DAY, 0.1);
    gc.schedule("a", Duration.ofHours(1), recording("a"));
    gc.schedule("b", Duration.ofHours(2), recording("b"));
    gc.runDue();
    assertThat(collected).isEmpty();
    assertThat(gc.pending()).isEqualTo(2);

    clock.advance(Duration.ofMinutes(61));
    gc.runDue();
    assertThat(collected).containsExactly("a");
    assertThat(gc.pending()).isEqualTo(1);
    assertThat(gc.pending("a")).isFalse();

    clock.advance(Duration.ofHours(1));
    gc.runDue();
    assertThat(collected).containsExactly("a", "b");
    assertThat(gc.pending()).isZero();
    assertThat(gc.collected()).isEqualTo(2);
    assertThat(gc.collectedEarly()).isZero();
  }

  @Test
  void theSameKeyScheduledTwiceIsOneItemWithTheEarlierDeadline() {
    GarbageCollector gc = collector(DAY, 0.1);
    assertThat(gc.schedule("a", Duration.ofHours(5), recording("late"))).isTrue();
    assertThat(gc.schedule("a", Duration.ofHours(1), recording("early"))).isFalse();
    assertThat(gc.pending()).isEqualTo(1);
    clock.advance(Duration.ofHours(2));
    gc.runDue();
    assertThat(collected).containsExactly("late");
  }

  @Test
  void diskPressureShortensTheDelayAndCollectsTheOldestFirst() {
    GarbageCollector gc = collector(Duration.ofDays(10), 0.1);
    // Scheduled a day apart: deadlines in 10, 11, 12 days.
    gc.schedule("oldest", Duration.ofDays(10), recording("oldest"));
    clock.advance(DAY);
    gc.schedule("middle", Duration.ofDays(10), recording("middle"));
    clock.advance(DAY);
    gc.schedule("newest", Duration.ofDays(10), recording("newest"));
    clock.advance(Duration.ofHours(1));

    usage = 0.5; // effective delay 4 days: nothing is that old
    gc.checkDiskUsage();
    assertThat(gc.usage()).isEqualTo(0.5);
    assertThat(gc.effectiveDelay()).isEqualTo(Duration.ofDays(4));
    assertThat(collected).isEmpty();

    usage = 0.8; // effective delay 1 day: the two scheduled more than a day ago go
    gc.checkDiskUsage();
    assertThat(gc.effectiveDelay()).isEqualTo(Duration.ofDays(1));
    assertThat(collected).containsExactly("oldest", "middle");
    assertThat(gc.collectedEarly()).isEqualTo(2);
    assertThat(gc.pending()).isEqualTo(1);

    usage = 0.3; // the pressure is gone: the newest waits for its own deadline again
    gc.checkDiskUsage();
    assertThat(gc.effectiveDelay()).isEqualTo(Duration.ofDays(6));
    clock.advance(Duration.ofDays(5));
    gc.runDue();
    assertThat(collected).containsExactly("oldest", "middle");

    usage = 0.95; // above 1 - headroom: everything goes
    gc.checkDiskUsage();
    assertThat(gc.effectiveDelay()).isZero();
    assertThat(collected).containsExactly("oldest", "middle", "newest");
    assertThat(gc.pending()).isZero();
  }

  @Test
  void aReferencedItemIsNeverCollectedAndTriedAgainLaterEvenUnderPressure() {
    GarbageCollector gc = collector(Duration.ofHours(1), 0.1);
    AtomicBoolean referenced = new AtomicBoolean(true);
    List<Instant> tries = new CopyOnWriteArrayList<>();
    gc.schedule(
        "live",
        Duration.ofHours(1),
        () -> {
          tries.add(clock.instant());
          if (referenced.get()) {
            return Outcome.REFERENCED;
          }
          collected.add("live");
          return Outcome.COLLECTED;
        });
    usage = 0.99;
    gc.checkDiskUsage();
    assertThat(tries).hasSize(1);
    assertThat(collected).isEmpty();
    assertThat(gc.pending("live")).isTrue();

    // Not tried again at once (no busy loop under pressure), but after MIN_RETRY.
    gc.checkDiskUsage();
    assertThat(tries).hasSize(1);
    clock.advance(GarbageCollector.MIN_RETRY);
    gc.checkDiskUsage();
    assertThat(tries).hasSize(2);
    assertThat(collected).isEmpty();

    // Without pressure a referenced item waits the whole delay again.
    usage = 0.1;
    gc.checkDiskUsage();
    clock.advance(Duration.ofMinutes(30));
    gc.runDue();
    assertThat(tries).hasSize(2);
    referenced.set(false);
    clock.advance(Duration.ofMinutes(31));
    gc.runDue();
    assertThat(tries).hasSize(3);
    assertThat(collected).containsExactly("live");
    assertThat(gc.pending()).isZero();
  }

  @Test
  void aFailedCollectionIsDroppedAndAnUnreadableDiskChangesNothing() {
    GarbageCollector gc = collector(Duration.ofHours(1), 0.1);
    gc.schedule("broken", Duration.ZERO, () -> Outcome.FAILED);
    gc.schedule(
        "throws",
        Duration.ZERO,
        () -> {
          throw new IllegalStateException("boom");
        });
    gc.runDue();
    assertThat(gc.pending()).isZero();
    assertThat(gc.collected()).isZero();

    GarbageCollector unreadable =
        new GarbageCollector(
            new Settings(Duration.ofHours(1), 0.1, Duration.ofMinutes(1)),
            clock,
            scheduler,
            () -> {
              throw new java.io.IOException("statvfs failed");
            });
    unreadable.schedule("a", Duration.ofHours(1), recording("a"));
    unreadable.checkDiskUsage();
    assertThat(unreadable.usage()).isNaN();
    assertThat(unreadable.effectiveDelay()).isEqualTo(Duration.ofHours(1));
    assertThat(collected).isEmpty();
  }

  @Test
  void itsOwnTimerCollectsWhatIsDue() {
    GarbageCollector gc =
        new GarbageCollector(
            Settings.delayOnly(Duration.ZERO), Clock.systemUTC(), scheduler, () -> 0.0);
    gc.schedule("now", Duration.ZERO, recording("now"));
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> collected.contains("now"));
    assertThat(gc.pending()).isZero();
    gc.close();
    assertThat(gc.schedule("after", Duration.ZERO, recording("after"))).isFalse();
  }

  @Test
  void theDiskUsageOfARealFileSystemIsAFraction() throws Exception {
    double u = GarbageCollector.DiskUsage.of(java.nio.file.Path.of(".")).usage();
    assertThat(u).isBetween(0.0, 1.0);
  }
}
