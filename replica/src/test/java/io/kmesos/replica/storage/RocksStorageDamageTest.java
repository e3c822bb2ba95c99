package io.kmesos.replica.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.kmesos.api.log.v1.Action;
import io.kmesos.api.log.v1.ActionType;
import io.kmesos.api.log.v1.Ballot;
import io.kmesos.api.log.v1.Metadata;
import io.kmesos.api.log.v1.ReplicaStatus;
import io.kmesos.replica.core.Effects;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteOptions;

/**
 * A replica's storage, damaged the ways a disk or filesystem damages files, must never come back
 * having silently forgotten something it synced (and so may have acknowledged): every damage is
 * either refused at open, with a message naming what was found, or harmless (everything synced is
 * there, intact). The one loss allowed is a torn last write that was never synced.
 *
 * <p>Real RocksDB on a temporary directory; the write-ahead log's framing (32 KiB blocks of records
 * with a 7-byte header: crc32c, length, type) is parsed here only to aim the damage at record
 * headers and payloads.
 */
class RocksStorageDamageTest {
  @TempDir Path tmp;
  Path pristine;

  /** Everything synced into {@link #pristine}: the actions by position, and the last metadata. */
  final List<Action> synced = new ArrayList<>();

  Metadata syncedMetadata;

  @BeforeEach
  void writeALog() throws IOException {
    pristine = tmp.resolve("pristine");
    try (RocksStorage s = RocksStorage.open(pristine)) {
      writeSynced(s, 1, 120);
    }
  }

  /**
   * Synced batches for positions [from, to]: mostly small, every 25th large enough to span WAL
   * blocks.
   */
  void writeSynced(RocksStorage s, int from, int to) {
    Random random = new Random(from);
    for (int p = from; p <= to; p++) {
      byte[] payload = new byte[p % 25 == 0 ? 50_000 : 200 + random.nextInt(200)];
      random.nextBytes(payload);
      Action a =
          Action.newBuilder()
              .setPosition(p)
              .setBallot(ballot(p / 40 + 1))
              .setType(ActionType.APPEND)
              .setPayload(ByteString.copyFrom(payload))
              .setLearned(p % 3 != 0)
              .build();
      Metadata m =
          p % 10 == 0 || syncedMetadata == null
              ? Metadata.newBuilder()
                  .setReplicaId(0)
                  .setClusterId("damage")
                  .setStatus(ReplicaStatus.VOTING)
                  .setPromised(ballot(p / 40 + 1))
                  .setBegin(1)
                  .build()
              : null;
      s.apply(List.of(Effects.Persist.actions(m, List.of(a), 0)));
      synced.add(a);
      if (m != null) {
        syncedMetadata = m;
      }
    }
  }

  static Ballot ballot(long n) {
    return Ballot.newBuilder().setRound(n).setProposer(1).build();
  }

  // ---- the write-ahead log --------------------------------------------------------------------

  @Test
  void aFlippedByteInAnySyncedWalRecordIsRefused() throws IOException {
    Path wal = largestFile(pristine, ".log");
    List<WalFile.Record> records = WalFile.records(Files.readAllBytes(wal));
    List<WalFile.Record> data = records.stream().filter(WalFile.Record::holdsData).toList();
    assertThat(data).as("physical records in %s", wal).hasSizeGreaterThan(120);
    List<WalFile.Record> targets =
        new ArrayList<>(data.subList(data.size() - 6, data.size())); // each of the last ones
    for (int i = 1; i <= 5; i++) {
      targets.add(data.get(i * data.size() / 7)); // and some in the middle
    }
    int cases = 0;
    for (WalFile.Record r : targets) {
      for (long offset : r.interestingOffsets()) {
        Path copy =
            damagedCopy(
                "wal-flip-" + offset,
                dir -> DiskFaults.flipByte(dir.resolve(wal.getFileName()), offset));
        assertRefused(
            copy,
            "a flipped byte at offset " + offset + " of " + wal.getFileName() + " (" + r + ")",
            wal.getFileName().toString());
        cases++;
      }
    }
    assertThat(cases).isGreaterThan(60);
  }

  @Test
  void aTruncatedWalIsRefused() throws IOException {
    Path wal = largestFile(pristine, ".log");
    long size = Files.size(wal);
    List<WalFile.Record> data =
        WalFile.records(Files.readAllBytes(wal)).stream()
            .filter(WalFile.Record::holdsData)
            .toList();
    WalFile.Record last = data.get(data.size() - 1);
    // One byte short; inside the last record; exactly at its start (what is left reads as a clean
    // end of file); half the file.
    for (long length :
        new long[] {size - 1, last.offset() + last.length() / 2, last.offset(), size / 2}) {
      Path copy =
          damagedCopy(
              "wal-truncated-" + length,
              dir -> DiskFaults.truncate(dir.resolve(wal.getFileName()), length));
      assertRefused(
          copy,
          "the write-ahead log truncated from " + size + " to " + length + " bytes",
          wal.getFileName().toString());
    }
  }

  @Test
  void aTornWriteThatWasNeverSyncedIsDroppedAndEverythingSyncedStays() throws IOException {
    Path torn = tmp.resolve("torn");
    copyDir(pristine, torn);
    Path wal;
    long before;
    try (RocksStorage s = RocksStorage.open(torn)) {
      wal = newestWal(torn); // each open starts a new write-ahead log file
      before = Files.size(wal);
      Action unsynced =
          Action.newBuilder()
              .setPosition(121)
              .setType(ActionType.APPEND)
              .setPayload(ByteString.copyFrom(new byte[5000]))
              .build();
      s.apply(List.of(Effects.Persist.copies(List.of(unsynced))));
    }
    long after = Files.size(wal);
    assertThat(after).as("the unsynced write reached the file").isGreaterThan(before + 5000);
    // A crash tore that write anywhere in its record: what was synced must all come back.
    for (long length : new long[] {before, before + 3, before + 7, before + 2500, after - 1}) {
      Path copy = tmp.resolve("torn-" + length);
      copyDir(torn, copy);
      DiskFaults.truncate(copy.resolve(wal.getFileName()), length);
      try (RocksStorage s = RocksStorage.open(copy)) {
        assertHoldsEverythingSynced(s, "torn at " + length);
        assertThat(s.end()).as("the torn write is gone").isEqualTo(120);
      }
    }
  }

  static Path newestWal(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().matches("[0-9]+\\.log"))
          .max(Comparator.naturalOrder())
          .orElseThrow();
    }
  }

  /**
   * Several write-ahead log files at once (a crash while RocksDB switched to a new one, or the
   * processes that opened this database after a crash without flushing): losing one before the last
   * does not shorten what RocksDB recovers, so only reading the chain shows it.
   */
  @Test
  void aWalFileBeforeTheLastThatIsMissingOrTruncatedIsRefused() throws IOException {
    appendWithoutFlushing(pristine, 2); // two more live WAL files after the replica's own
    List<Path> wals = liveWals(pristine);
    assertThat(wals).hasSize(3);
    for (int i = 0;
        i < 2;
        i++) { // the oldest and the middle one; losing the last shows in the watermark
      Path wal = wals.get(i);
      long size = Files.size(wal);
      assertRefused(
          damagedCopy("chain-deleted-" + i, dir -> Files.delete(dir.resolve(wal.getFileName()))),
          "the deleted write-ahead log file " + wal.getFileName() + " (of 3)",
          "are gone");
      assertRefused(
          damagedCopy(
              "chain-truncated-" + i,
              dir -> DiskFaults.truncate(dir.resolve(wal.getFileName()), size / 2)),
          "the write-ahead log file " + wal.getFileName() + " (of 3) truncated to half",
          "are gone");
    }
    try (RocksStorage s = RocksStorage.open(pristine)) {
      assertHoldsEverythingSynced(s, "all three files there");
    }
  }

  @Test
  void flushedWalFilesAreKeptUntilTheChainMovesPastThemThenDeleted() throws IOException {
    Path archive = pristine.resolve("archive");
    try (RocksStorage s = RocksStorage.open(pristine)) {
      // More than a memtable (64 MiB): RocksDB flushes on its own and archives the WAL file.
      byte[] payload = new byte[1 << 20];
      for (int p = 121; p <= 200; p++) {
        Action a =
            Action.newBuilder()
                .setPosition(p)
                .setType(ActionType.APPEND)
                .setPayload(ByteString.copyFrom(payload))
                .build();
        s.apply(List.of(Effects.Persist.actions(null, List.of(a), 0)));
      }
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  Files.isDirectory(archive)
                      && listLogs(archive).stream().anyMatch(p -> p.toFile().length() > 0));
    }
    // A crash before the archive was pruned: the chain still reads through the archived file.
    try (RocksStorage s = RocksStorage.open(pristine)) {
      assertThat(s.end()).isEqualTo(200);
      // The server prunes from time to time (RocksDB archives a flushed file in the background).
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () -> {
                s.pruneWalArchive();
                return listLogs(archive).isEmpty();
              });
    }
    try (RocksStorage s = RocksStorage.open(pristine)) {
      assertThat(s.end()).as("nothing the chain needs went with them").isEqualTo(200);
    }
  }

  @Test
  void aFirstStartKilledBeforeRocksDbFinishedCreatingTheDatabaseStartsAfresh() throws IOException {
    Path dir = tmp.resolve("first-start");
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("LOCK"), "");
    Files.writeString(dir.resolve("IDENTITY"), "7b0c...");
    Files.writeString(dir.resolve("MANIFEST-000001"), "");
    Files.writeString(dir.resolve(SyncedWatermark.FILE_NAME + ".creating"), "");
    try (RocksStorage s = RocksStorage.open(dir)) {
      assertThat(s.metadata()).isNull();
      assertThat(s.end()).isZero();
    }
    try (RocksStorage s = RocksStorage.open(dir)) { // and it is a replica database from then on
      assertThat(s.end()).isZero();
    }
  }

  /**
   * Opens {@code dir} as something other than the replica might (no flush at open) and appends,
   * {@code runs} times.
   */
  static void appendWithoutFlushing(Path dir, int runs) {
    RocksDB.loadLibrary();
    for (int run = 0; run < runs; run++) {
      try (Options o =
              new Options()
                  .setAvoidFlushDuringRecovery(true)
                  .setWalTtlSeconds(WalChain.ARCHIVE_TTL_SECONDS);
          RocksDB db = RocksDB.open(o, dir.toString());
          WriteOptions sync = new WriteOptions().setSync(true)) {
        for (int i = 0; i < 20; i++) {
          db.put(sync, ("x" + run + "-" + i).getBytes(StandardCharsets.US_ASCII), new byte[100]);
        }
      } catch (RocksDBException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  static List<Path> liveWals(Path dir) throws IOException {
    return listLogs(dir).stream().filter(p -> p.toFile().length() > 0).toList();
  }

  static List<Path> listLogs(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().matches("[0-9]+\\.log")).sorted().toList();
    }
  }

  // ---- table files, the MANIFEST, deleted files -------------------------------------------------

  @Test
  void aFlippedByteInATableFileIsRefusedNamingIt() throws IOException {
    flushToTableFile(pristine);
    Path sst = largestFile(pristine, ".sst");
    long size = Files.size(sst);
    for (long offset : new long[] {size / 3, size / 2, size - 100}) {
      Path copy =
          damagedCopy(
              "sst-flip-" + offset,
              dir -> DiskFaults.flipByte(dir.resolve(sst.getFileName()), offset));
      assertRefused(
          copy,
          "a flipped byte at offset " + offset + " of " + sst.getFileName(),
          sst.getFileName().toString());
    }
  }

  @Test
  void damageFoundWhileServingIsReportedAsWhatItIsNotAsAMissingRecord() throws IOException {
    flushToTableFile(pristine);
    Path sst = largestFile(pristine, ".sst");
    try (RocksStorage s = RocksStorage.open(pristine)) {
      // The disk damages a block after the checks at start.
      DiskFaults.flipByte(sst, Files.size(sst) / 2);
      assertThatThrownBy(() -> s.range(1, synced.size(), synced.size() + 1, Long.MAX_VALUE))
          .isInstanceOf(CorruptRecordException.class)
          .hasMessageContaining("checksum mismatch")
          .hasMessageContaining(sst.getFileName().toString());
    }
  }

  @Test
  void aFlippedByteInTheManifestIsRefused() throws IOException {
    flushToTableFile(pristine);
    Path manifest = largestFile(pristine, "MANIFEST-");
    long size = Files.size(manifest);
    for (long offset : new long[] {20, size / 2}) {
      Path copy =
          damagedCopy(
              "manifest-flip-" + offset,
              dir -> DiskFaults.flipByte(dir.resolve(manifest.getFileName()), offset));
      assertRefused(
          copy, "a flipped byte at offset " + offset + " of " + manifest.getFileName(), "MANIFEST");
    }
    // Its last records too: refused, or nothing was lost.
    for (long offset = Math.max(0, size - 64); offset < size; offset += 7) {
      long at = offset;
      assertRefusedOrComplete(
          damagedCopy(
              "manifest-tail-" + at,
              dir -> DiskFaults.flipByte(dir.resolve(manifest.getFileName()), at)),
          "a flipped byte at offset " + at + " of " + manifest.getFileName());
    }
  }

  @Test
  void aDeletedFileIsRefusedUnlessNothingWasInIt() throws IOException {
    flushToTableFile(pristine);
    try (RocksStorage s = RocksStorage.open(pristine)) {
      writeSynced(s, 121, 160); // a table file and a write-ahead log, both holding synced writes
    }
    List<String> mustRefuse = new ArrayList<>();
    try (Stream<Path> files = Files.list(pristine)) {
      for (Path f : files.sorted().toList()) {
        String name = f.getFileName().toString();
        if (name.equals("LOCK")) {
          continue; // a lock, not data; copies never take it
        }
        Path copy = damagedCopy("deleted-" + name, dir -> deleteTree(dir.resolve(name)));
        if (name.endsWith(".log")
            || name.endsWith(".sst")
            || name.startsWith("MANIFEST-")
            || name.equals("CURRENT")
            || name.equals(SyncedWatermark.FILE_NAME)) {
          mustRefuse.add(name);
          assertRefused(copy, "the deleted file " + name, name.equals("CURRENT") ? "CURRENT" : "");
        } else {
          assertRefusedOrComplete(
              copy, "the deleted file " + name); // LOG, OPTIONS, LOCK: nothing synced there
        }
      }
    }
    assertThat(mustRefuse)
        .anyMatch(n -> n.endsWith(".log"))
        .anyMatch(n -> n.endsWith(".sst"))
        .contains(SyncedWatermark.FILE_NAME, "CURRENT");
  }

  @Test
  void aDamagedWatermarkIsRefused() throws IOException {
    for (long offset : new long[] {0, 10, 19}) {
      assertRefused(
          damagedCopy(
              "mark-" + offset,
              dir -> DiskFaults.flipByte(dir.resolve(SyncedWatermark.FILE_NAME), offset)),
          "a flipped byte at offset " + offset + " of " + SyncedWatermark.FILE_NAME,
          SyncedWatermark.FILE_NAME);
    }
  }

  @Test
  void anUndamagedLogReopensComplete() throws IOException {
    try (RocksStorage s = RocksStorage.open(pristine)) {
      assertHoldsEverythingSynced(s, "reopened");
    }
  }

  // ---- helpers ----------------------------------------------------------------------------------

  interface Damage {
    void apply(Path dir) throws IOException;
  }

  Path damagedCopy(String name, Damage damage) throws IOException {
    Path copy = tmp.resolve(name);
    copyDir(pristine, copy);
    damage.apply(copy);
    return copy;
  }

  void assertRefused(Path dir, String damage, String named) {
    assertThatThrownBy(
            () -> {
              try (RocksStorage s = RocksStorage.open(dir)) {
                fail("opened in spite of " + damage + "; it holds " + s.end() + " positions");
              }
            })
        .as(damage)
        .isInstanceOf(StorageException.class)
        .hasMessageContaining("is damaged")
        .hasMessageContaining(dir.toString())
        .hasMessageContaining(named);
  }

  void assertRefusedOrComplete(Path dir, String damage) {
    RocksStorage s;
    try {
      s = RocksStorage.open(dir);
    } catch (StorageException e) {
      assertThat(e).as(damage).hasMessageContaining("is damaged");
      return;
    }
    try (s) {
      assertHoldsEverythingSynced(s, damage);
    }
  }

  void assertHoldsEverythingSynced(RocksStorage s, String after) {
    assertThat(s.metadata()).as(after).isEqualTo(syncedMetadata);
    List<Action> held = s.range(1, synced.size(), synced.size() + 1, Long.MAX_VALUE);
    assertThat(held).as(after).hasSize(synced.size());
    for (int i = 0; i < synced.size(); i++) {
      assertThat(held.get(i)).as(after + ": position %d", i + 1).isEqualTo(synced.get(i));
    }
  }

  /**
   * Moves what the write-ahead log holds into a table file: every open does, once it has checked
   * it.
   */
  static void flushToTableFile(Path dir) {
    RocksStorage.open(dir).close();
  }

  /**
   * The largest file of {@code dir} whose name has {@code nameHas} (the WAL or table file that
   * holds the data).
   */
  static Path largestFile(Path dir, String nameHas) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().contains(nameHas))
          .filter(p -> !nameHas.equals(".log") || !p.getFileName().toString().startsWith("LOG"))
          .max(Comparator.comparingLong(p -> p.toFile().length()))
          .orElseThrow();
    }
  }

  static void deleteTree(Path path) throws IOException {
    try (Stream<Path> s = Files.walk(path)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  static void copyDir(Path from, Path to) throws IOException {
    Files.createDirectories(to);
    try (Stream<Path> s = Files.list(from)) {
      for (Path f : s.toList()) {
        if (Files.isDirectory(f)) {
          copyDir(f, to.resolve(f.getFileName()));
        } else if (!f.getFileName().toString().equals("LOCK")) {
          Files.copy(f, to.resolve(f.getFileName()), StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    }
  }
}
