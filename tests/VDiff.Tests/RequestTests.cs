namespace Durable.VDiff.Tests;

/// <summary>The create request shared by the HTTP API and the CLI: defaults, mapping to options, and each bad value named.</summary>
public sealed class RequestTests
{
    [Theory]
    [InlineData("90s", 90)]
    [InlineData("10m", 600)]
    [InlineData("1h30m", 5400)]
    [InlineData("2h", 7200)]
    [InlineData("1500ms", 1.5)]
    [InlineData("45", 45)]
    public void Go_durations_parse(string text, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), GoDuration.Parse("--x", text));

    [Theory]
    [InlineData("")]
    [InlineData("10 minutes")]
    [InlineData("1d")]
    [InlineData("-5m")]
    [InlineData("0s")]
    [InlineData("9999h")]
    public void Bad_durations_are_refused_naming_the_flag_and_value(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => GoDuration.Parse("--max-diff-duration", text));
        Assert.Contains($"--max-diff-duration '{text}' is invalid", e.Message);
    }

    [Fact]
    public void Defaults_are_the_options_defaults()
    {
        var options = new VDiffCreateRequest().ToOptions();
        var defaults = new VDiffOptions();
        Assert.Equal(defaults.TabletTypes, options.TabletTypes);
        Assert.Equal(defaults.MaxDiffDuration, options.MaxDiffDuration);
        Assert.Equal(defaults.ChunkRows, options.ChunkRows);
        Assert.True(options.AutoRetry);
        Assert.False(options.RowLevel || options.Repair || options.OnlyPks);
    }

    [Fact]
    public void Every_flag_reaches_the_options()
    {
        var options = new VDiffCreateRequest
        {
            Tables = ["customer", "corder"], TabletTypes = "in_order:REPLICA,PRIMARY", SourceTimeZone = "US/Pacific", OnlyPks = true,
            MaxExtraRowsToCompare = 5, MaxReportSampleRows = 3, UpdateTableStats = true, AutoRetry = false, MaxDiffDuration = "30m",
            FilteredReplicationWaitTime = "2m", RowLevel = true, ChunkRows = 500, Repair = true,
        }.ToOptions();
        Assert.Equal(["customer", "corder"], options.Tables);
        Assert.Equal("in_order:REPLICA,PRIMARY", options.TabletTypes);
        Assert.Equal("US/Pacific", options.SourceTimeZone);
        Assert.True(options.OnlyPks && options.UpdateTableStats && options.RowLevel && options.Repair);
        Assert.False(options.AutoRetry);
        Assert.Equal(5, options.MaxExtraRowsToCompare);
        Assert.Equal(3, options.MaxSamples);
        Assert.Equal(TimeSpan.FromMinutes(30), options.MaxDiffDuration);
        Assert.Equal(TimeSpan.FromMinutes(2), options.WaitTimeout);
        Assert.Equal(500, options.ChunkRows);
    }

    [Theory]
    [InlineData("PRIMARY,BACKUP", "'BACKUP'")]
    [InlineData("in_order:", "--tablet-types 'in_order:' is invalid")]
    public void Bad_tablet_types_are_refused(string types, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => new VDiffCreateRequest { TabletTypes = types }.ToOptions());
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Bad_table_names_uuid_and_time_zone_are_refused()
    {
        Assert.Contains("--tables entry 'x` OR 1' is invalid", Assert.Throws<ArgumentException>(() => new VDiffCreateRequest { Tables = ["x` OR 1"] }.ToOptions()).Message);
        Assert.Contains("uuid 'abc' is invalid", Assert.Throws<ArgumentException>(() => new VDiffCreateRequest { Uuid = "abc" }.ToOptions()).Message);
        Assert.Contains("--source-time-zone", Assert.Throws<ArgumentException>(() => new VDiffCreateRequest { SourceTimeZone = "'; DROP" }.ToOptions()).Message);
    }
}
