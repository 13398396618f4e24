using System.Xml.Linq;

namespace Durable.MySql.Tests.Unit;

/// <summary>
/// MySqlConnector is the oracle of the tests only: the product reads and writes through its own client (faster,
/// byte-exact, and the binlog needs it anyway). No project under src/ may reference it, directly or by a
/// Directory.Build file.
/// </summary>
public sealed class OracleStaysInTestsTests
{
    [Fact]
    public void No_product_project_references_MySqlConnector()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Directory.Packages.props")))
        {
            root = root.Parent;
        }

        Assert.NotNull(root);
        var src = Path.Combine(root.FullName, "src");
        var files = Directory.EnumerateFiles(src, "*.csproj", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(src, "Directory.*", SearchOption.AllDirectories))
            .Concat(Directory.EnumerateFiles(root.FullName, "Directory.Build.*", SearchOption.TopDirectoryOnly))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToList();
        Assert.NotEmpty(files);
        var offenders = files
            .Where(f => XDocument.Load(f).Descendants().Any(e => e.Name.LocalName is "PackageReference" or "Reference"
                && ((string?)e.Attribute("Include") ?? string.Empty).StartsWith("MySqlConnector", StringComparison.OrdinalIgnoreCase)))
            .ToList();
        Assert.True(offenders.Count == 0, "MySqlConnector is a test-only dependency; referenced by " + string.Join(", ", offenders));
    }
}
