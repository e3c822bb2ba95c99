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
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

@Command(
    name = "read",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Prints learned entries: position, type, size and payload (as text when it is UTF-8, else hex).",
      "With --decode: the entries the State layer wrote (the registry's history), decoded from the .proto "
          + "definitions: for each position, the variables a change stored or expunged and the operations that "
          + "caused it, or a snapshot's variables."
    })
final class ReadCommand implements Callable<Integer> {
  @Mixin PeersOption peers;

  @Option(
      names = "--replica",
      paramLabel = "ID|HOST:PORT",
      description =
          "Read only what this replica has learned (its index in --peers, 0-based, or its address there); "
              + "by default each entry comes from whichever voting replica learned the most.")
  String replica;

  @Option(names = "--from", description = "First position (default: the log's beginning).")
  Long from;

  @Option(names = "--to", description = "Last position (default: the last learned one).")
  Long to;

  @Option(names = "--hex", description = "Print every payload as hex.")
  boolean hex;

  @Option(
      names = "--decode",
      description = "Decode State entries (registry changes and snapshots).")
  boolean decode;

  @Option(
      names = "--format",
      defaultValue = "yaml",
      description = "With --decode: yaml or json (default: ${DEFAULT-VALUE}).")
  String format;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    if (!format.equals("yaml") && !format.equals("json")) {
      throw new ParameterException(
          spec.commandLine(), "--format must be yaml or json, not '" + format + "'");
    }
    List<String> all = peers.list();
    Integer only = replica == null ? null : peers.replica(replica);
    try (Log log = peers.log()) {
      Reader reader = log.reader();
      long first = from != null ? from : only == null ? reader.beginning() : reader.beginning(only);
      long last = to != null ? to : only == null ? reader.ending() : reader.ending(only);
      List<LogEntry> entries =
          only == null ? reader.read(first, last) : reader.readFrom(only, first, last);
      if (decode) {
        printDecoded(entries);
        return 0;
      }
      for (LogEntry e : entries) {
        System.out.printf(
            "%d\t%s\t%d\t%s%n",
            e.position(),
            e.type(),
            e.payload().size(),
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
        default -> {}
      }
    }
    System.out.print(
        format.equals("json") ? ReadableProto.json(out) + "\n" : ReadableProto.yaml(out));
  }

  private String show(byte[] payload) {
    if (!hex) {
      try {
        return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(payload)).toString();
      } catch (CharacterCodingException notText) {
        // fall through to hex
      }
    }
    return HexFormat.of().formatHex(payload);
  }
}
