package io.kmesos.crds.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.crdv2.generator.v1.SchemaCustomizer;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Categories;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;
import io.kmesos.crds.schema.SchemaPatch;

/** Windows of planned unavailability for groups of machines (Mesos maintenance primitives). */
@Group(KmesosApi.GROUP)
@Version(KmesosApi.VERSION)
@ShortNames("kmms")
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
    {"description": "Windows of planned unavailability for groups of machines (Mesos maintenance primitives): scheduled machines are DRAINING; those listed in spec.down are DOWN. A machine belongs to at most one schedule.",
     "properties": {"spec": {"description": "The maintenance windows and the machines to take down now."},
                    "status": {"description": "The schedule's machines and their modes in the registry, written by the controller only."}}}""")
public class MaintenanceSchedule
    extends CustomResource<MaintenanceScheduleSpec, MaintenanceScheduleStatus> {}
