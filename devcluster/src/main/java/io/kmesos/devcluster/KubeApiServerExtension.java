package io.kmesos.devcluster;

import io.fabric8.kubernetes.client.KubernetesClient;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Starts one {@link LocalKubeApiServer} per test class and injects it, or a {@link
 * KubernetesClient} for it, into constructors, lifecycle methods and tests. Use it through {@link
 * WithKubeApiServer}.
 */
public final class KubeApiServerExtension
    implements BeforeAllCallback, AfterAllCallback, ParameterResolver {
  private static final ExtensionContext.Namespace NS =
      ExtensionContext.Namespace.create(KubeApiServerExtension.class);
  private static final String SERVER = "server";

  @Override
  public void beforeAll(ExtensionContext context) {
    store(context).put(SERVER, LocalKubeApiServer.start());
  }

  @Override
  public void afterAll(ExtensionContext context) {
    LocalKubeApiServer server = store(context).remove(SERVER, LocalKubeApiServer.class);
    if (server != null) {
      server.close();
    }
  }

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    Class<?> type = parameter.getParameter().getType();
    return type == KubernetesClient.class || type == LocalKubeApiServer.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    LocalKubeApiServer server = findServer(context);
    if (server == null) {
      throw new ParameterResolutionException(
          "no API server: is the test class annotated with @WithKubeApiServer?");
    }
    return parameter.getParameter().getType() == KubernetesClient.class
        ? server.newClient()
        : server;
  }

  private static LocalKubeApiServer findServer(ExtensionContext context) {
    for (ExtensionContext c = context; c != null; c = c.getParent().orElse(null)) {
      LocalKubeApiServer server = store(c).get(SERVER, LocalKubeApiServer.class);
      if (server != null) {
        return server;
      }
    }
    return null;
  }

  private static ExtensionContext.Store store(ExtensionContext context) {
    return context.getStore(NS);
  }
}
