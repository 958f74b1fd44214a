using Scheduler.Silo.Models;

namespace Scheduler.Silo.OpenAi;

/// <summary>The OpenAI-compatible routes: completions, chat completions and the model list.</summary>
internal static class OpenAiEndpoints
{
    public const string Prefix = "/v1";

    // A model id may hold slashes, as Hugging Face names do ("meta-llama/Llama-3.1-8B-Instruct"): the catch-all takes the
    // rest of the path, which is how a client that does not escape its path parameters sends one.
    private const string Completions = "/completions", ChatCompletions = "/chat/completions", Models = "/models", Model = "/models/{**id}";

    /// <summary>The routes served under <see cref="Prefix"/>, with their methods: what is mapped below and what
    /// <see cref="OpenAiRouteErrors"/> names when a request misses them.</summary>
    public static readonly (string Method, string Template)[] Routes =
        [(HttpMethods.Post, Completions), (HttpMethods.Post, ChatCompletions), (HttpMethods.Get, Models), (HttpMethods.Get, Model)];

    /// <summary>The methods a route of <paramref name="method"/> answers, as a 405's <c>Allow</c> lists them: a GET route
    /// also answers HEAD (RFC 9110 §9.3.2 — monitors and link checkers probe with HEAD, and a 405 read as "down").</summary>
    public static string Allowed(string method) => method == HttpMethods.Get ? $"{HttpMethods.Get}, {HttpMethods.Head}" : method;

    private static readonly string[] GetAndHead = [HttpMethods.Get, HttpMethods.Head];

    public static WebApplication MapOpenAiApi(this WebApplication app)
    {
        app.UseMiddleware<OpenAiPortGate>();

        // After the gate, so a /v1 path on another port keeps its bare 404 and tells a scanner nothing.
        app.UseStatusCodePages(OpenAiRouteErrors.Answer);
        var v1 = app.MapGroup(Prefix);
        v1.MapPost(Completions, (HttpContext http, OpenAiCompletions completions) => completions.Run(http, OpenAiKind.Completion));
        v1.MapPost(ChatCompletions, (HttpContext http, OpenAiCompletions completions) => completions.Run(http, OpenAiKind.Chat));
        v1.MapMethods(Models, GetAndHead, (HttpContext http, OpenAiAuthenticator auth, OpenAiErrors errors, ModelCatalog models) =>
            Authenticated(http, auth, errors, () => OpenAiJson.ModelList(models.All.Select(m => m.Name))));
        v1.MapMethods(Model, GetAndHead, (string id, HttpContext http, OpenAiAuthenticator auth, OpenAiErrors errors, ModelCatalog models) =>
            Authenticated(http, auth, errors, () => models.TryGet(ModelId(id), out var model)
                ? OpenAiJson.Model(model.Name)
                // Named as the client named it: an escaped slash read back "model 'org%2Fname' not found".
                : throw Api.SchedulerErrors.NotFound("model", ModelId(id))));
        return app;
    }

    /// <summary>The model id of a <c>/v1/models/{id}</c> path. Kestrel decodes a path but for <c>%2F</c>, which it leaves
    /// as sent so a decoded slash cannot make a new path segment; the OpenAI SDKs that escape path parameters (the
    /// <c>openai</c> npm package) send a slash of a model id so.</summary>
    private static string ModelId(string id) => id.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);

    private static async Task Authenticated(HttpContext http, OpenAiAuthenticator auth, OpenAiErrors errors, Func<byte[]> body)
    {
        try
        {
            await auth.Tenant(http.Request);
            var bytes = body();
            http.Response.ContentType = OpenAiJson.ContentType;

            // Said before the body, so a HEAD (whose body Kestrel drops) learns the length its GET would have.
            http.Response.ContentLength = bytes.Length;
            await http.Response.Body.WriteAsync(bytes, http.RequestAborted);
        }
        catch (Exception ex) when (!http.RequestAborted.IsCancellationRequested)
        {
            await errors.Write(http, ex, OpenAiKind.Completion);
        }
    }
}
