package io.kmesos.api.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import io.kmesos.api.agent.v1.AgentProto;
import io.kmesos.api.log.v1.LogProto;
import io.kmesos.api.operator.v1.OperatorProto;
import io.kmesos.api.registry.v1.RegistryProto;
import io.kmesos.api.scheduler.v1.SchedulerProto;
import io.kmesos.api.state.v1.StateProto;
import io.kmesos.api.v1.InfoProto;
import io.kmesos.api.v1.TasksProto;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Any kmesos message as JSON or YAML, decoded from the {@code .proto} definitions (protobuf's JSON
 * mapping), never by hand-written formatting. {@code google.protobuf.Any} values are expanded
 * whatever kmesos type they hold, so a log entry that stores registry variables prints them in
 * full.
 */
public final class ReadableProto {
  /** Every message type kmesos defines, for Any values. */
  public static final JsonFormat.TypeRegistry TYPES =
      JsonFormat.TypeRegistry.newBuilder()
          .add(LogProto.getDescriptor().getMessageTypes())
          .add(StateProto.getDescriptor().getMessageTypes())
          .add(RegistryProto.getDescriptor().getMessageTypes())
          .add(InfoProto.getDescriptor().getMessageTypes())
          .add(TasksProto.getDescriptor().getMessageTypes())
          .add(SchedulerProto.getDescriptor().getMessageTypes())
          .add(AgentProto.getDescriptor().getMessageTypes())
          .add(OperatorProto.getDescriptor().getMessageTypes())
          .build();

  private static final JsonFormat.Printer PRINTER = JsonFormat.printer().usingTypeRegistry(TYPES);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final ObjectMapper YAML =
      new ObjectMapper(
          new YAMLFactory()
              .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
              .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES));

  private ReadableProto() {}

  public static String json(MessageOrBuilder message) {
    try {
      return PRINTER.print(message);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException(
          "cannot print " + message.getClass().getSimpleName() + ": " + e.getMessage(), e);
    }
  }

  /** The message as a JSON tree, to embed in a larger document. */
  public static JsonNode tree(MessageOrBuilder message) {
    try {
      return JSON.readTree(json(message));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static String yaml(MessageOrBuilder message) {
    return yaml(tree(message));
  }

  public static String yaml(JsonNode tree) {
    try {
      return YAML.writeValueAsString(tree);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static String json(JsonNode tree) {
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(tree);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static ObjectMapper mapper() {
    return JSON;
  }
}
