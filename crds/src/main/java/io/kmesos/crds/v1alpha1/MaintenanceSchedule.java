package io.kmesos.crds.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Categories;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/** Windows of planned unavailability for groups of machines (Mesos maintenance primitives). */
@Group(KmesosApi.GROUP)
@Version(KmesosApi.VERSION)
@ShortNames("kmms")
@Categories(KmesosApi.CATEGORY)
@AdditionalPrinterColumn(name = "Ready", jsonPath = KmesosApi.READY_JSON_PATH)
public class MaintenanceSchedule extends CustomResource<MaintenanceScheduleSpec, MaintenanceScheduleStatus> {}
