package io.kmesos.replica.tool;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kmesos.api.cli.VersionProvider;
import io.kmesos.api.state.v1.Entry;
import io.kmesos.api.text.ReadableProto;
import io.kmesos.replica.client.Log;
import io.kmesos.replica.client.LogEntry;
import io.kmesos.replica.client.Reader;
import io.kmesos.replica.state.State;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "read", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
    description = {"Prints learned entries: position, type, size and payload (as text when it is UTF-8, else hex).",
        "With --decode: the entries the State layer wrote (the registry's history), decoded from the .proto "
            + "definitions: for each position, the variables a change stored or expunged and the operations that "
            + "caused it, or a snapshot's variables."})
final class ReadCommand implements Callable<Integer> {
  @Mixin PeersOption peers;

  @Option(names = "--from", description = "First position (default: the log's beginning).")
  Long from;

  @Option(names = "--to", description = "Last position (default: the last learned one).")
  Long to;

  @Option(names = "--hex", description = "Print every payload as hex.")
  boolean hex;

  @Option(names = "--decode", description = "Decode State entries (registry changes and snapshots).")
  boolean decode;

  @Option(names = "--format", defaultValue = "yaml", description = "With --decode: yaml or json (default: ${DEFAULT-VALUE}).")
  String format;

  @Override
  public Integer call() {
    try (Log log = new Log(peers.list())) {
      Reader reader = log.reader();
      long first = from != null ? from : reader.beginning();
      long last = to != null ? to : reader.ending();
      if (decode) {
        printDecoded(reader.read(first, last));
        return 0;
      }
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

  private void printDecoded(List<LogEntry> entries) {
    if (!format.equals("yaml") && !format.equals("json")) {
      throw new IllegalArgumentException("--format must be yaml or json, not '" + format + "'");
    }
    ArrayNode out = ReadableProto.mapper().createArrayNode();
    for (LogEntry e : entries) {
      ObjectNode n = out.addObject();
      n.put("position", e.position());
      n.put("type", e.type().name());
      switch (e.type()) {
        case TRUNCATE -> n.put("truncateTo", e.truncateTo());
        case APPEND -> {
          Entry entry = State.decode(e.payload());
          if (entry == null) {
            n.put("size", e.payload().size());
            n.put("notAStateEntry", show(e.payload().toByteArray()));
          } else {
            n.setAll((ObjectNode) ReadableProto.tree(entry));
          }
        }
        default -> { }
      }
    }
    System.out.print(format.equals("json") ? ReadableProto.json(out) + "\n" : ReadableProto.yaml(out));
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
