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
 * A node's agent as the registry knows it. Agents create their own (named after their node); the
 * controller admits it into the registry and reports the agent ID and state in status; the agent
 * reports what it runs there too.
 */
@Group(KmesosApi.GROUP)
@Version(KmesosApi.VERSION)
@ShortNames("kma")
@Categories(KmesosApi.CATEGORY)
@AdditionalPrinterColumn(name = "Agent ID", jsonPath = ".status.agentId")
@AdditionalPrinterColumn(name = "State", jsonPath = ".status.state")
@AdditionalPrinterColumn(name = "Ready", jsonPath = KmesosApi.READY_JSON_PATH)
@AdditionalPrinterColumn(
    name = "Tasks",
    jsonPath = ".status.tasksRunning",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "CPUs Free",
    jsonPath = ".status.resourcesFree.cpus",
    type = AdditionalPrinterColumn.Type.NUMBER)
@AdditionalPrinterColumn(
    name = "Mem Free",
    jsonPath = ".status.resourcesFree.mem",
    type = AdditionalPrinterColumn.Type.NUMBER)
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
    {"description": "A node's agent as the registry knows it (Mesos agent). The agent on each node creates its own Agent, named after the node; the controller admits it into the registry and reports its agent ID and state in status. Deleting it removes the agent from the registry (no faster than the removal rate limit).",
     "properties": {"spec": {"description": "What the agent offers: its hostname, resources and attributes (Mesos SlaveInfo)."},
                    "status": {"description": "What the registry holds for this agent, written by the controller (agentId, state, conditions), and what the agent runs, reported by the agent itself every few seconds (tasksRunning, resourcesUsed, resourcesFree, reportedAt)."}}}""")
public class Agent extends CustomResource<AgentSpec, AgentStatus> {}
