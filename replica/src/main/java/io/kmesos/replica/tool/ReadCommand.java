package io.kmesos.replica.tool;

import io.kmesos.api.cli.VersionProvider;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.client.LogEntry;
import io.kmesos.replica.client.Reader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "read", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
    description = "Prints learned entries: position, type, size and payload (as text when it is UTF-8, else hex).")
final class ReadCommand implements Callable<Integer> {
  @Mixin PeersOption peers;

  @Option(names = "--from", description = "First position (default: the log's beginning).")
  Long from;

  @Option(names = "--to", description = "Last position (default: the last learned one).")
  Long to;

  @Option(names = "--hex", description = "Print every payload as hex.")
  boolean hex;

  @Override
  public Integer call() {
    try (Log log = new Log(peers.list())) {
      Reader reader = log.reader();
      long first = from != null ? from : reader.beginning();
      long last = to != null ? to : reader.ending();
      for (LogEntry e : reader.read(first, last)) {
        System.out.printf("%d\t%s\t%d\t%s%n", e.position(), e.type(), e.payload().size(),
            switch (e.type()) {
              case TRUNCATE -> "to " + e.truncateTo();
              case NOP -> "";
              default -> show(e.payload().toByteArray());
            });
      }
    }
    return 0;
  }

  private String show(byte[] payload) {
    if (!hex) {
      try {
        return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(payload)).toString();
      } catch (CharacterCodingException notText) {
        // fall through to hex
      }
    }
    return HexFormat.of().formatHex(payload);
  }
}
