using System.Collections.Frozen;
using Microsoft.Extensions.Options;
using Microsoft.ML.Tokenizers;

namespace Scheduler.Silo.Models;

/// <summary>The models this scheduler accepts jobs for, each with the tokenizer that counts its prompts.</summary>
internal sealed class ModelCatalog
{
    private readonly FrozenDictionary<string, ModelEntry> _models;

    public ModelCatalog(IOptions<ModelCatalogOptions> options)
    {
        var tokenizers = new Dictionary<string, Tokenizer>(StringComparer.OrdinalIgnoreCase);
        _models = options.Value.Models.ToFrozenDictionary(
            m => m.Name,
            m => new ModelEntry(m, TokenizerFor(m.Tokenizer, tokenizers)),
            StringComparer.Ordinal);
    }

    public IEnumerable<ModelEntry> All => _models.Values;

    public bool TryGet(string name, out ModelEntry model) => _models.TryGetValue(name, out model!);

    private static Tokenizer TokenizerFor(string name, Dictionary<string, Tokenizer> cache)
    {
        if (!cache.TryGetValue(name, out var tokenizer))
        {
            // Encodings ship in the Microsoft.ML.Tokenizers.Data.* packages: no download at run time.
            tokenizer = TiktokenTokenizer.CreateForEncoding(name);
            cache[name] = tokenizer;
        }

        return tokenizer;
    }
}

internal sealed record ModelEntry(ModelOptions Options, Tokenizer Tokenizer)
{
    public string Name => Options.Name;

    public int CountTokens(string text) => Tokenizer.CountTokens(text);
}
