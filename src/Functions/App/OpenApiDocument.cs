namespace Durable.Functions.App;

/// <summary>
/// The OpenAPI description of the HTTP API: docs/openapi.json, embedded at build so both hosts serve the checked-in
/// file byte for byte (tests/Functions.Tests/OpenApiTests.cs checks it lists exactly the routes and methods served).
/// </summary>
public static class OpenApiDocument
{
    private static readonly Lazy<string> Text = new(Load);

    public static string Json => Text.Value;

    private static string Load()
    {
        using var stream = typeof(OpenApiDocument).Assembly.GetManifestResourceStream("Durable.Functions.openapi.json")
                           ?? throw new InvalidOperationException("The build lacks the embedded docs/openapi.json (see Durable.Functions.csproj).");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
