package io.kmesos.crds.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.crdv2.generator.v1.SchemaCustomizer;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Categories;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;
import io.kmesos.crds.schema.SchemaPatch;

/**
 * The quota of a role: resources it is guaranteed and resources it may not exceed (Mesos {@code
 * /quota}).
 */
@Group(KmesosApi.GROUP)
@Version(KmesosApi.VERSION)
@ShortNames("kmq")
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
    {"description": "The quota of one Mesos role: resources it is guaranteed and resources it may not exceed (Mesos /quota). One Quota per role; a hierarchical role's guarantees must fit in its parent role's (Mesos' rule: a role guarantees at least the sum of its children's guarantees).",
     "properties": {"spec": {"description": "The role and its guarantees and limits."},
                    "status": {"description": "Whether the registry holds this quota, written by the controller only."}}}""")
public class Quota extends CustomResource<QuotaSpec, RegistryStatus> {}
