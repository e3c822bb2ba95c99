package io.kmesos.crds.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.crdv2.generator.v1.SchemaCustomizer;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Categories;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;
import io.kmesos.crds.schema.SchemaPatch;

/** The weight of a role in fair sharing (Mesos {@code /weights}). */
@Group(KmesosApi.GROUP)
@Version(KmesosApi.VERSION)
@ShortNames("kmw")
@Categories(KmesosApi.CATEGORY)
@AdditionalPrinterColumn(name = "Ready", jsonPath = KmesosApi.READY_JSON_PATH)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = KmesosApi.AGE_JSON_PATH,
    type = AdditionalPrinterColumn.Type.DATE)
// What kubectl explain shows for the kind, spec and status (no annotation of the generator reaches
// them).
@SchemaCustomizer(
    value = SchemaPatch.class,
    input =
        """
    {"description": "The weight of one Mesos role in fair sharing (Mesos /weights). One Weight per role.",
     "properties": {"spec": {"description": "The role and its weight."},
                    "status": {"description": "Whether the registry holds this weight, written by the controller only."}}}""")
public class Weight extends CustomResource<WeightSpec, RegistryStatus> {}
