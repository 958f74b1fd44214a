namespace Scheduler.Silo.OpenAi;

internal static class OpenAiServiceCollectionExtensions
{
    /// <summary>Registers the OpenAI-compatible API; map it with <see cref="OpenAiEndpoints.MapOpenAiApi"/>.</summary>
    public static IServiceCollection AddOpenAiApi(this IServiceCollection services) =>
        services
            .AddRequestDecompression()
            .AddSingleton<OpenAiPortGate>()
            .AddSingleton<OpenAiAuthenticator>()
            .AddSingleton<OpenAiRequestReader>()
            .AddSingleton<OpenAiErrors>()
            .AddSingleton<OpenAiCompletions>();
}
