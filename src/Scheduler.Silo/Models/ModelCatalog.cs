using System.Collections.Frozen;
using Microsoft.Extensions.Options;
using Microsoft.ML.Tokenizers;
using Scheduler.Grains.Tenants;

namespace Scheduler.Silo.Models;

/// <summary>The models this scheduler accepts jobs for, each with the tokenizer that counts its prompts.</summary>
internal sealed class ModelCatalog : IServedModels
{
    private const int NamesShown = 8;

    private readonly FrozenDictionary<string, ModelEntry> _models;

    public ModelCatalog(IOptions<ModelCatalogOptions> options)
    {
        _models = options.Value.Models.ToFrozenDictionary(
            m => m.Name,
            m => new ModelEntry(m, TokenizerOf(m), ChatTemplateOf(m)),
            StringComparer.Ordinal);
        var names = _models.Keys.Order(StringComparer.Ordinal).ToList();
        Names = names.Count == 0 ? "none configured"
            : string.Join(", ", names.Take(NamesShown).Select(n => $"'{n}'")) + (names.Count > NamesShown ? $" and {names.Count - NamesShown} more" : "");
    }

    public IEnumerable<ModelEntry> All => _models.Values;

    IReadOnlyCollection<string> IServedModels.Names => _models.Keys;

    public bool TryGet(string name, out ModelEntry model) => _models.TryGetValue(name, out model!);

    /// <summary>The configured model names, quoted and comma-separated, for a refusal of a name that is none of them:
    /// the first <see cref="NamesShown"/> in order, then how many more (a refusal's detail stays short).</summary>
    public string Names { get; }

    /// <summary>The model's chat template; a name that is none was refused at start-up (<see cref="ModelCatalogOptionsValidator"/>).</summary>
    private static ChatTemplate ChatTemplateOf(ModelOptions model) =>
        string.IsNullOrEmpty(model.ChatTemplate) ? ChatTemplate.DefaultFor(model.Name)
        : ChatTemplate.TryGet(model.ChatTemplate, out var template) ? template
        : throw new InvalidOperationException($"Scheduler:Models '{model.Name}': unknown ChatTemplate '{model.ChatTemplate}'");

    /// <summary>The model's tokenizer; a name the silo has none of was refused at start-up (<see cref="ModelCatalogOptionsValidator"/>).</summary>
    private static Tokenizer TokenizerOf(ModelOptions model) =>
        Tokenizers.TryGet(model.Tokenizer, out var tokenizer) ? tokenizer
        : throw new InvalidOperationException($"Scheduler:Models '{model.Name}': unknown Tokenizer '{model.Tokenizer}'");
}

internal sealed record ModelEntry(ModelOptions Options, Tokenizer Tokenizer, ChatTemplate ChatTemplate)
{
    public string Name => Options.Name;

    public int CountTokens(string text) => Tokenizer.CountTokens(text);
}
