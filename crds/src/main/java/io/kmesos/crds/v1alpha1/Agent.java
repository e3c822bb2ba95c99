package io.kmesos.crds.v1alpha1;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Categories;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * A node's agent as the registry knows it. Agents create their own (named after their node); the
 * controller admits it into the registry and reports the agent ID and state in status.
 */
@Group(KmesosApi.GROUP)
@Version(KmesosApi.VERSION)
@ShortNames("kma")
@Categories(KmesosApi.CATEGORY)
@AdditionalPrinterColumn(name = "Agent ID", jsonPath = ".status.agentId")
@AdditionalPrinterColumn(name = "State", jsonPath = ".status.state")
@AdditionalPrinterColumn(name = "Ready", jsonPath = KmesosApi.READY_JSON_PATH)
public class Agent extends CustomResource<AgentSpec, AgentStatus> {}
