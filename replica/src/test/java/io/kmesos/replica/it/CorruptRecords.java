package io.kmesos.replica.it;

import io.kmesos.replica.storage.WalChain;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;

/**
 * Damages a stored record the way a bad disk would: one flipped byte, under RocksDB's own checks.
 */
final class CorruptRecords {
  private CorruptRecords() {}

  static void flipByteOfAction(Path dataDir, long position) throws Exception {
    RocksDB.loadLibrary();
    byte[] key = ByteBuffer.allocate(9).put((byte) 'A').putLong(position).array();
    // As the replica opens it (flushed WAL files archived, not deleted), so that only the record
    // changes.
    try (Options o =
            new Options()
                .setWalTtlSeconds(WalChain.ARCHIVE_TTL_SECONDS)
                .setAvoidFlushDuringRecovery(true);
        RocksDB db = RocksDB.open(o, dataDir.toString())) {
      byte[] value = db.get(key);
      if (value == null) {
        throw new IllegalStateException("no action at position " + position + " in " + dataDir);
      }
      value[value.length - 1] ^= 0x40;
      db.put(key, value);
    }
  }
}
