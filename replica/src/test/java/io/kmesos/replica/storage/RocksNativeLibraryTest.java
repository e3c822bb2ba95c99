package io.kmesos.replica.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One copy of RocksDB's native library per content, however many processes start (or are killed).
 */
class RocksNativeLibraryTest {
  @TempDir Path tmp;

  static List<Path> files(Path base) throws Exception {
    try (Stream<Path> all = Files.walk(base)) {
      return all.filter(Files::isRegularFile).toList();
    }
  }

  @Test
  void startsReuseOneCopyAndLeaveNothingElse() throws Exception {
    Path base = tmp.resolve("kmesos-rocksdbjni");
    Path first = RocksNativeLibrary.materialize(base);
    FileTime written = Files.getLastModifiedTime(first);
    for (int i = 0; i < 5; i++) {
      assertThat(RocksNativeLibrary.materialize(base)).isEqualTo(first);
    }
    assertThat(files(base)).containsExactly(first);
    assertThat(Files.getLastModifiedTime(first)).isEqualTo(written);
    assertThat(Files.size(first)).isGreaterThan(1_000_000);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(base)))
        .isEqualTo("rwx------");
  }

  @Test
  void aDamagedCopyIsWrittenAgainNotLoaded() throws Exception {
    Path base = tmp.resolve("kmesos-rocksdbjni");
    Path file = RocksNativeLibrary.materialize(base);
    byte[] good = Files.readAllBytes(file);
    byte[] bad = good.clone();
    bad[bad.length / 2] ^= 0x40;
    Files.write(file, bad);
    assertThat(RocksNativeLibrary.materialize(base)).isEqualTo(file);
    assertThat(Files.readAllBytes(file)).isEqualTo(good);
    assertThat(files(base)).containsExactly(file);
  }

  @Test
  void aDirectoryOthersMayWriteIsNotUsed() throws Exception {
    Path base = Files.createDirectory(tmp.resolve("shared"));
    Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxrwxrwx"));
    assertThat(RocksNativeLibrary.materialize(base)).isNull();
    assertThat(files(base)).isEmpty();
  }
}
