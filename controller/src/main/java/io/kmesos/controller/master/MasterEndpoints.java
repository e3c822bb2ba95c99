package io.kmesos.controller.master;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Publishes where the leading master listens, the way the API server publishes the {@code
 * kubernetes} Service: a Service {@code kmesos-master} without a selector (no pod label says who
 * leads; the Lease does) and an EndpointSlice the leader writes on election, holding its own
 * address and port. Frameworks and agents then reach the leader as {@code
 * kmesos-master.<namespace>:5050} through the cluster's DNS and kube-proxy, and a new leader's
 * {@link #publish} moves them.
 *
 * <p>Both objects are written with server-side apply by one field manager, {@value #FIELD_MANAGER}:
 * publishing the same address again changes nothing, a new leader (same manager) replaces the
 * address, and fields others set on the Service (labels, annotations, an overlay's type) stay
 * theirs. The EndpointSlice's address type cannot change after creation, so there is one slice per
 * type ({@code kmesos-master-ipv4}, {@code -ipv6}, {@code -fqdn}); publishing deletes this
 * manager's slices of the other types. kube-proxy routes only IP slices: in a cluster the leader
 * publishes its pod IP ({@code status.podIP}); a hostname is kept for clients that read the slice
 * themselves.
 *
 * <p>The controller's ServiceAccount needs get, create, patch and update on services and
 * endpointslices in the namespace, and delete on endpointslices
 * (manifests/base/controller-rbac.yaml).
 */
public final class MasterEndpoints {
  /** The Service's (and its slices' prefix) name. */
  public static final String SERVICE = "kmesos-master";

  /** The Service's and slices' port name. */
  public static final String PORT_NAME = "grpc";

  /** The field manager of every write, the same for every leader so a new one replaces the old. */
  public static final String FIELD_MANAGER = "kmesos-master-endpoints";

  /** EndpointSlice's label naming the Service it belongs to. */
  public static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";

  /** EndpointSlice's label naming who manages it (not the EndpointSlice controller). */
  public static final String MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by";

  /** Our value of {@link #MANAGED_BY_LABEL}. */
  public static final String MANAGED_BY = "controller.kmesos.io";

  private static final Pattern IPV4 =
      Pattern.compile(
          "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}");
  private static final Pattern DNS_NAME =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  private static final List<String> ADDRESS_TYPES = List.of("IPv4", "IPv6", "FQDN");

  private final KubernetesClient client;
  private final String namespace;

  /** Publishes into {@code namespace}: the controller's own (where its Lease is). */
  public MasterEndpoints(KubernetesClient client, String namespace) {
    if (namespace == null || namespace.isBlank()) {
      throw new IllegalArgumentException("MasterEndpoints needs the controller's namespace");
    }
    this.client = client;
    this.namespace = namespace;
  }

  /**
   * Makes {@code kmesos-master} lead to {@code host:port}: an IPv4 or IPv6 literal (IPv6 possibly
   * in brackets), or a DNS name. Idempotent; call it on every election, after the master's port
   * listens.
   *
   * @throws IllegalArgumentException if the address cannot be published (the wildcard address, a
   *     port out of range, not an IP nor a DNS name)
   * @throws KubernetesClientException if the API server refused or could not be reached
   */
  public void publish(String host, int port) {
    Address address = Address.parse(host);
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("the master's port must be 1 to 65535, not " + port);
    }
    Service service =
        new ServiceBuilder()
            .withNewMetadata()
            .withName(SERVICE)
            .withNamespace(namespace)
            .addToLabels("app.kubernetes.io/name", "kmesos-master")
            .addToLabels("app.kubernetes.io/part-of", "kmesos")
            .endMetadata()
            .withNewSpec()
            .addNewPort()
            .withName(PORT_NAME)
            .withProtocol("TCP")
            .withPort(port)
            .withAppProtocol("grpc")
            .endPort()
            .endSpec()
            .build();
    client.resource(service).fieldManager(FIELD_MANAGER).forceConflicts().serverSideApply();

    EndpointSlice slice =
        new EndpointSliceBuilder()
            .withNewMetadata()
            .withName(sliceName(address.type()))
            .withNamespace(namespace)
            .addToLabels(SERVICE_NAME_LABEL, SERVICE)
            .addToLabels(MANAGED_BY_LABEL, MANAGED_BY)
            .endMetadata()
            .withAddressType(address.type())
            .addNewEndpoint()
            .withAddresses(address.value())
            .withNewConditions()
            .withReady(true)
            .withServing(true)
            .withTerminating(false)
            .endConditions()
            .endEndpoint()
            .addNewPort()
            .withName(PORT_NAME)
            .withProtocol("TCP")
            .withPort(port)
            .withAppProtocol("grpc")
            .endPort()
            .build();
    client.resource(slice).fieldManager(FIELD_MANAGER).forceConflicts().serverSideApply();

    // The previous leader's address, if it was of another type, must not stay beside ours.
    for (String other : ADDRESS_TYPES) {
      if (!other.equals(address.type())) {
        client
            .discovery()
            .v1()
            .endpointSlices()
            .inNamespace(namespace)
            .withName(sliceName(other))
            .delete();
      }
    }
  }

  /** The namespace the Service and slices are in. */
  public String namespace() {
    return namespace;
  }

  /** The name of the slice holding addresses of {@code addressType} (IPv4, IPv6 or FQDN). */
  public static String sliceName(String addressType) {
    return SERVICE + "-" + addressType.toLowerCase(Locale.ROOT);
  }

  /** An address as an EndpointSlice holds it. */
  record Address(String type, String value) {
    static Address parse(String host) {
      if (host == null || host.isBlank()) {
        throw new IllegalArgumentException("the master's address must not be empty");
      }
      String h = host.strip();
      if (h.startsWith("[") && h.endsWith("]")) {
        h = h.substring(1, h.length() - 1);
      }
      if (IPV4.matcher(h).matches()) {
        if (h.equals("0.0.0.0")) {
          throw wildcard(host);
        }
        return new Address("IPv4", h);
      }
      if (h.contains(":")) {
        InetAddress ip;
        try {
          // A literal with a colon is parsed, never looked up.
          ip = InetAddress.getByName(h);
        } catch (UnknownHostException e) {
          throw new IllegalArgumentException("'" + host + "' is not an IPv6 address", e);
        }
        if (ip.isAnyLocalAddress()) {
          throw wildcard(host);
        }
        // Canonical form (RFC 5952 compressed, lower case), as the API server expects.
        return new Address("IPv6", canonicalIpv6(ip.getAddress()));
      }
      String name = h.toLowerCase(Locale.ROOT);
      if (name.endsWith(".")) {
        name = name.substring(0, name.length() - 1);
      }
      if (name.length() > 253 || !DNS_NAME.matcher(name).matches()) {
        throw new IllegalArgumentException(
            "'" + host + "' is neither an IP address nor a DNS name (RFC 1123)");
      }
      return new Address("FQDN", name);
    }

    private static IllegalArgumentException wildcard(String host) {
      return new IllegalArgumentException(
          "cannot publish the wildcard address "
              + host
              + ": publish the address others reach the master at (in a pod, its status.podIP)");
    }

    /** RFC 5952: lower case, leading zeros dropped, the longest run of 2+ zero groups as "::". */
    static String canonicalIpv6(byte[] bytes) {
      if (bytes.length != 16) {
        throw new IllegalArgumentException("an IPv4 address written with colons: use dotted form");
      }
      int[] groups = new int[8];
      for (int i = 0; i < 8; i++) {
        groups[i] = ((bytes[2 * i] & 0xff) << 8) | (bytes[2 * i + 1] & 0xff);
      }
      int bestStart = -1;
      int bestLength = 0;
      for (int i = 0; i < 8; ) {
        if (groups[i] != 0) {
          i++;
          continue;
        }
        int j = i;
        while (j < 8 && groups[j] == 0) {
          j++;
        }
        if (j - i > bestLength && j - i >= 2) {
          bestStart = i;
          bestLength = j - i;
        }
        i = j;
      }
      StringBuilder out = new StringBuilder();
      for (int i = 0; i < 8; i++) {
        if (i == bestStart) {
          out.append("::");
          i += bestLength - 1;
          continue;
        }
        if (out.length() > 0 && out.charAt(out.length() - 1) != ':') {
          out.append(':');
        }
        out.append(Integer.toHexString(groups[i]));
      }
      return out.toString();
    }
  }
}
