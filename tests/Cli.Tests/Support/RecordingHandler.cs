using System.Net;
using System.Text;

namespace Durable.Cli.Tests;

/// <summary>
/// An HTTP handler that records every request durablectl sends (method, path and query, body) and answers each with
/// the status and JSON the test chooses: the CLI's requests and output checked without a host.
/// </summary>
internal sealed class RecordingHandler(Func<HttpRequestMessage, string?, (HttpStatusCode Status, string Json)> answer) : HttpMessageHandler
{
    public List<(HttpMethod Method, string Path, string? Body)> Requests { get; } = [];

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
        lock (Requests)
        {
            Requests.Add((request.Method, request.RequestUri!.PathAndQuery, body));
        }

        var (status, json) = answer(request, body);
        return new HttpResponseMessage(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
    }
}
