/**
 * The kmesos custom resources, group {@code kmesos.io}, version {@code v1alpha1}. All are
 * cluster-scoped: there is one registry per kmesos installation, as there is one per Mesos cluster.
 * Spec is what the user wants; status is what the registry holds, written only by the controller.
 */
package io.kmesos.crds.v1alpha1;
