using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Durable.Functions.App;
using Durable.Functions.Management;
using Durable.Functions.Runner;
using Durable.Functions.Tests.Support;
using Durable.Testing;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Durable.Functions.Tests;

/// <summary>
/// The OpenAPI description of the HTTP API (docs/openapi.json, served at GET /api/openapi.json) lists exactly the
/// routes and methods the host serves: every HTTP function and the Durable Functions management API, no more.
/// </summary>
[Trait("Category", "Integration")]
public sealed partial class OpenApiTests
{
    [Fact]
    public async Task The_served_description_is_the_checked_in_file_and_lists_exactly_the_served_routes_and_methods()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DURABLE_ETCD_ENDPOINTS"] = "http://127.0.0.1:9", ["DURABLE_ENGINE_PASSWORD"] = "unused",
        }).Build();
        await using var host = await TestHost.StartAsync(services => services.AddDurableFunctionsApp(config), new Dictionary<string, string> { ["DURABLE_HOST_KEY"] = "mk" });

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/openapi.json");
        request.Headers.Add("x-functions-key", "mk");
        using var response = await host.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var served = JsonNode.Parse(text)!;
        var file = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(LocalCluster.RepositoryRoot(), "docs", "openapi.json")))!;
        Assert.True(JsonNode.DeepEquals(file, served), "GET /api/openapi.json differs from docs/openapi.json");
        Assert.StartsWith("3.", served["openapi"]!.GetValue<string>());

        var documented = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (path, item) in served["paths"]!.AsObject())
        {
            foreach (var (method, _) in item!.AsObject())
            {
                if (method is "get" or "post" or "put" or "delete" or "patch")
                {
                    documented.Add($"{method.ToUpperInvariant()} {path}");
                }
            }
        }

        var expected = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var function in host.Services.GetRequiredService<TriggerRegistry>().Http)
        {
            foreach (var path in Paths("/api/" + function.Route))
            {
                foreach (var method in function.Methods)
                {
                    expected.Add($"{method.ToUpperInvariant()} {path}");
                }
            }
        }

        foreach (var endpoint in host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            var raw = endpoint.RoutePattern.RawText ?? "";
            if (!raw.StartsWith(ManagementApi.BasePath, StringComparison.Ordinal))
            {
                continue;
            }

            foreach (var path in Paths(raw))
            {
                foreach (var method in endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()!.HttpMethods)
                {
                    expected.Add($"{method} {path}");
                }
            }
        }

        Assert.Equal(string.Join("\n", expected), string.Join("\n", documented));
    }

    /// <summary>An ASP.NET Core route as OpenAPI paths: constraints dropped, an optional last parameter as two paths.</summary>
    private static IEnumerable<string> Paths(string route)
    {
        var path = Constraint().Replace("/" + route.TrimStart('/'), "{$1}");
        var optional = OptionalLast().Match(path);
        if (!optional.Success)
        {
            return [path];
        }

        return [path[..optional.Index], path[..optional.Index] + "/{" + optional.Groups[1].Value + "}"];
    }

    [GeneratedRegex(@"\{([A-Za-z_]+)(?::[^}]*)?\}")]
    private static partial Regex Constraint();

    [GeneratedRegex(@"/\{([A-Za-z_]+)\?\}$")]
    private static partial Regex OptionalLast();
}
