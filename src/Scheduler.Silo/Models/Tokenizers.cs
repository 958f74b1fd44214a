using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Microsoft.ML.Tokenizers;

namespace Scheduler.Silo.Models;

/// <summary>
/// The tokenizers this silo has, by encoding name, each loaded once per process: the model catalog's validator and the
/// catalog both ask for them at start-up, and an encoding's vocabulary takes megabytes to read. The encodings ship in
/// the Microsoft.ML.Tokenizers.Data.* packages the silo references: no download at run time.
/// </summary>
internal static class Tokenizers
{
    private static readonly ConcurrentDictionary<string, Lazy<Tokenizer?>> Loaded = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The tokenizer of encoding <paramref name="name"/>; false when the silo has none of that name.</summary>
    public static bool TryGet(string name, [NotNullWhen(true)] out Tokenizer? tokenizer)
    {
        tokenizer = Loaded.GetOrAdd(name, n => new Lazy<Tokenizer?>(() => Load(n))).Value;
        return tokenizer is not null;
    }

    private static TiktokenTokenizer? Load(string name)
    {
        try
        {
            return TiktokenTokenizer.CreateForEncoding(name);
        }
        // A name the library does not know, or one whose data package this silo does not ship.
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or InvalidOperationException)
        {
            return null;
        }
    }
}
