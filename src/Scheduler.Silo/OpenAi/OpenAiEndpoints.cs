using Scheduler.Silo.Models;

namespace Scheduler.Silo.OpenAi;

/// <summary>The OpenAI-compatible routes: completions, chat completions and the model list.</summary>
internal static class OpenAiEndpoints
{
    public const string Prefix = "/v1";

    private const string Completions = "/completions", ChatCompletions = "/chat/completions", Models = "/models", Model = "/models/{id}";

    /// <summary>The routes served under <see cref="Prefix"/>, with their methods: what is mapped below and what
    /// <see cref="OpenAiRouteErrors"/> names when a request misses them.</summary>
    public static readonly (string Method, string Template)[] Routes =
        [(HttpMethods.Post, Completions), (HttpMethods.Post, ChatCompletions), (HttpMethods.Get, Models), (HttpMethods.Get, Model)];

    public static WebApplication MapOpenAiApi(this WebApplication app)
    {
        app.UseMiddleware<OpenAiPortGate>();

        // After the gate, so a /v1 path on another port keeps its bare 404 and tells a scanner nothing.
        app.UseStatusCodePages(OpenAiRouteErrors.Answer);
        var v1 = app.MapGroup(Prefix);
        v1.MapPost(Completions, (HttpContext http, OpenAiCompletions completions) => completions.Run(http, OpenAiKind.Completion));
        v1.MapPost(ChatCompletions, (HttpContext http, OpenAiCompletions completions) => completions.Run(http, OpenAiKind.Chat));
        v1.MapGet(Models, (HttpContext http, OpenAiAuthenticator auth, OpenAiErrors errors, ModelCatalog models) =>
            Authenticated(http, auth, errors, () => OpenAiJson.ModelList(models.All.Select(m => m.Name))));
        v1.MapGet(Model, (string id, HttpContext http, OpenAiAuthenticator auth, OpenAiErrors errors, ModelCatalog models) =>
            Authenticated(http, auth, errors, () => models.TryGet(id, out var model)
                ? OpenAiJson.Model(model.Name)
                : throw Api.SchedulerErrors.NotFound("model", id)));
        return app;
    }

    private static async Task Authenticated(HttpContext http, OpenAiAuthenticator auth, OpenAiErrors errors, Func<byte[]> body)
    {
        try
        {
            await auth.Tenant(http.Request);
            http.Response.ContentType = OpenAiJson.ContentType;
            await http.Response.Body.WriteAsync(body(), http.RequestAborted);
        }
        catch (Exception ex) when (!http.RequestAborted.IsCancellationRequested)
        {
            await errors.Write(http, ex, OpenAiKind.Completion);
        }
    }
}
