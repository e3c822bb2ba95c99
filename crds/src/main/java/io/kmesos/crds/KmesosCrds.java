package io.kmesos.crds;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.http.HttpClient;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.HttpResponse;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.kmesos.crds.v1alpha1.KmesosApi;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** The generated kmesos CRDs (on the classpath under META-INF/fabric8) and how to install them. */
public final class KmesosCrds {
  /** The CRD files the build generates, one per kind. */
  public static final List<String> FILES =
      List.of(
          "agents.kmesos.io-v1.yml",
          "maintenanceschedules.kmesos.io-v1.yml",
          "quotas.kmesos.io-v1.yml",
          "weights.kmesos.io-v1.yml");

  private static final String GROUP = KmesosApi.GROUP;
  private static final ObjectMapper JSON = new ObjectMapper();

  private KmesosCrds() {}

  /** The four CRDs as objects. */
  public static List<CustomResourceDefinition> load() {
    List<CustomResourceDefinition> crds = new ArrayList<>();
    for (String file : FILES) {
      try (InputStream in = KmesosCrds.class.getResourceAsStream("/META-INF/fabric8/" + file)) {
        if (in == null) {
          throw new IllegalStateException(
              "CRD " + file + " is not on the classpath: was kmesos-crds built?");
        }
        crds.add(Serialization.unmarshal(in, CustomResourceDefinition.class));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return crds;
  }

  /**
   * Server-side applies the CRDs and waits until the API server serves every one of them and lists
   * them in its aggregated discovery document (what kubectl reads; it lags "Established" by a few
   * seconds, and until then {@code kubectl get kmesos} says there is no such resource type).
   */
  public static List<CustomResourceDefinition> install(KubernetesClient client, Duration timeout) {
    List<CustomResourceDefinition> installed = new ArrayList<>();
    for (CustomResourceDefinition crd : load()) {
      installed.add(
          client
              .apiextensions()
              .v1()
              .customResourceDefinitions()
              .resource(crd)
              .fieldManager("kmesos")
              .forceConflicts()
              .serverSideApply());
    }
    for (CustomResourceDefinition crd : installed) {
      client
          .apiextensions()
          .v1()
          .customResourceDefinitions()
          .withName(crd.getMetadata().getName())
          .waitUntilCondition(KmesosCrds::established, timeout.toMillis(), TimeUnit.MILLISECONDS);
    }
    awaitDiscovery(
        client, installed.stream().map(c -> c.getSpec().getNames().getPlural()).toList(), timeout);
    return installed;
  }

  private static void awaitDiscovery(
      KubernetesClient client, List<String> plurals, Duration timeout) {
    HttpClient http = client.getHttpClient();
    HttpRequest request =
        http.newHttpRequestBuilder()
            .uri(client.getMasterUrl().toString().replaceAll("/$", "") + "/apis")
            .header(
                "Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
            .build();
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      try {
        HttpResponse<String> response =
            http.sendAsync(request, String.class).get(10, TimeUnit.SECONDS);
        if (response.isSuccessful() && discovered(JSON.readTree(response.body()), plurals)) {
          return;
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException(
              "the API server did not list "
                  + plurals
                  + " in its discovery document within "
                  + timeout
                  + " (last answer: HTTP "
                  + response.code()
                  + ")");
        }
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for CRD discovery", e);
      } catch (IOException | ExecutionException | TimeoutException e) {
        throw new IllegalStateException(
            "reading the API server's discovery document failed: " + e.getMessage(), e);
      }
    }
  }

  /** Whether the v2 discovery list has every plural under kmesos.io, with the kmesos category. */
  static boolean discovered(JsonNode discovery, List<String> plurals) {
    for (JsonNode group : discovery.path("items")) {
      if (!GROUP.equals(group.path("metadata").path("name").asText())) {
        continue;
      }
      Set<String> found = new HashSet<>();
      for (JsonNode version : group.path("versions")) {
        for (JsonNode resource : version.path("resources")) {
          for (JsonNode category : resource.path("categories")) {
            if (KmesosApi.CATEGORY.equals(category.asText())) {
              found.add(resource.path("resource").asText());
            }
          }
        }
      }
      return found.containsAll(plurals);
    }
    return false;
  }

  static boolean established(CustomResourceDefinition crd) {
    return crd != null
        && crd.getStatus() != null
        && crd.getStatus().getConditions().stream()
            .anyMatch(c -> "Established".equals(c.getType()) && "True".equals(c.getStatus()));
  }
}
