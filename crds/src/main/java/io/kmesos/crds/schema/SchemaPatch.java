package io.kmesos.crds.schema;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.crdv2.generator.v1.SchemaCustomizer;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.util.Iterator;
import java.util.Map;

/**
 * A JSON merge patch (RFC 7386, in JSON) on the schema the crd-generator made for a class: for what
 * its annotations cannot say (descriptions of the kind, {@code spec} and {@code status}, {@code
 * format}, {@code x-kubernetes-list-type}). The generator's own {@code MergePatchCustomizer}
 * replaces nested objects such as {@code properties} whole; this merges them, so a patch names only
 * what it adds. Used at build time only, by the crd-generator.
 */
public final class SchemaPatch implements SchemaCustomizer.Customizer {
  @Override
  public JSONSchemaProps apply(
      JSONSchemaProps props, String input, KubernetesSerialization serialization) {
    JsonNode target = serialization.convertValue(props, JsonNode.class);
    JsonNode patch = serialization.unmarshal(input, JsonNode.class);
    return serialization.convertValue(merge(target, patch), JSONSchemaProps.class);
  }

  static JsonNode merge(JsonNode target, JsonNode patch) {
    if (!(patch instanceof ObjectNode patchObject)
        || !(target instanceof ObjectNode targetObject)) {
      return patch;
    }
    ObjectNode merged = targetObject.deepCopy();
    for (Iterator<Map.Entry<String, JsonNode>> it = patchObject.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> field = it.next();
      if (field.getValue().isNull()) {
        merged.remove(field.getKey());
      } else {
        JsonNode current = merged.get(field.getKey());
        merged.set(
            field.getKey(), current == null ? field.getValue() : merge(current, field.getValue()));
      }
    }
    return merged;
  }
}
