package io.kmesos.crds.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Categories;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/** The quota of a role: resources it is guaranteed and resources it may not exceed (Mesos {@code /quota}). */
@Group(KmesosApi.GROUP)
@Version(KmesosApi.VERSION)
@ShortNames("kmq")
@Categories(KmesosApi.CATEGORY)
@AdditionalPrinterColumn(name = "Ready", jsonPath = KmesosApi.READY_JSON_PATH)
public class Quota extends CustomResource<QuotaSpec, RegistryStatus> {}
