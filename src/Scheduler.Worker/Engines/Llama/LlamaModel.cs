using System.Text;
using LLama;
using LLama.Common;
using LLama.Exceptions;
using LLama.Native;

namespace Scheduler.Worker.Engines.Llama;

/// <summary>
/// One GGUF model loaded once per node: its weights and vocabulary are shared by every replica (each has its own
/// context) that serves it.
/// </summary>
internal sealed class LlamaModel : IDisposable
{
    private static readonly byte[] GgufMagic = "GGUF"u8.ToArray();

    private readonly LLamaWeights _weights;

    /// <summary>The GGUF's chat template (<c>tokenizer.chat_template</c>), when it has one llama.cpp can apply.</summary>
    private readonly string? _chatTemplate;

    private LlamaModel(string path, LLamaWeights weights)
    {
        Path = path;
        _weights = weights;
        _chatTemplate = ApplicableChatTemplate(weights);
    }

    /// <summary>Whether chats are rendered with the GGUF's own template (<see cref="TokenizeChat"/>).</summary>
    public bool HasChatTemplate => _chatTemplate is not null;

    public string Path { get; }

    /// <summary>The context length the model was trained with (GGUF <c>{arch}.context_length</c>).</summary>
    public int TrainedContextTokens => _weights.ContextSize;

    public SafeLlamaModelHandle.Vocabulary Vocabulary => _weights.Vocab;

    /// <summary>Loads the GGUF file at <paramref name="path"/>.</summary>
    /// <param name="path">The file.</param>
    /// <param name="setting">The setting that named it, for error messages.</param>
    /// <param name="gpuLayers">Layers to offload when a GPU backend is installed; null keeps LLamaSharp's default.</param>
    /// <exception cref="ArgumentException">The file is missing or a directory, not a GGUF model, or llama.cpp cannot load it.</exception>
    public static LlamaModel Load(string path, string setting, int? gpuLayers)
    {
        var fullPath = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(fullPath))
        {
            // A models folder is a common slip; "no such file" would send the operator looking for a path that exists.
            throw new ArgumentException($"{setting} \"{path}\" is a directory: name the GGUF file in it.", nameof(path));
        }

        if (!File.Exists(fullPath))
        {
            throw new ArgumentException($"{setting} \"{path}\": no such file.", nameof(path));
        }

        if (!StartsWithGgufMagic(fullPath))
        {
            throw new ArgumentException($"{setting} \"{path}\" is not a GGUF model file (it does not start with \"GGUF\").", nameof(path));
        }

        using var errors = LlamaNativeLog.HearErrors();
        var parameters = new ModelParams(fullPath);
        if (gpuLayers is { } layers)
        {
            parameters.GpuLayerCount = layers;
        }

        try
        {
            return new LlamaModel(fullPath, LLamaWeights.LoadFromFile(parameters));
        }
        catch (LoadWeightsFailedException ex)
        {
            // llama.cpp's own words name the cause (an architecture it does not know, a tensor missing or misshapen); its
            // log, where this message used to send the operator, has no logger yet while the node starts.
            throw new ArgumentException($"{setting} \"{path}\": llama.cpp could not load the model (unsupported architecture or a damaged file): {errors}", nameof(path), ex);
        }
    }

    /// <summary>A context of <paramref name="contextTokens"/> KV cells for up to <paramref name="sequences"/> sequence ids,
    /// decoding batches of up to <paramref name="batchTokens"/> tokens: one cache the sequences share when
    /// <paramref name="unified"/>, else one stream of <paramref name="contextTokens"/> ÷ <paramref name="sequences"/>
    /// cells per sequence id (llama.cpp rounds a stream up to a multiple of 256 cells).</summary>
    public LLamaContext CreateContext(int sequences, int contextTokens, int batchTokens, int? threads, bool unified, bool? flashAttention, ILogger logger)
    {
        var parameters = new ModelParams(Path)
        {
            ContextSize = (uint)contextTokens,
            SeqMax = (uint)sequences,

            // A unified cache lets a long sequence use what short ones leave, but llama.cpp then attends every token
            // over the cache's whole used range; per-sequence streams bound it by the batch's longest sequence.
            KVUnified = unified,
            BatchSize = (uint)batchTokens,
            UBatchSize = (uint)batchTokens,
            Threads = threads,
            FlashAttention = flashAttention,
        };
        return _weights.CreateContext(parameters, logger);
    }

    /// <summary>The model's own tokens for <paramref name="text"/>, with its beginning-of-sequence token if it wants one.</summary>
    public LLamaToken[] Tokenize(string text) => _weights.Tokenize(text, Vocabulary.ShouldAddBOS, special: false, Encoding.UTF8);

    /// <summary>
    /// A chat as the model was trained to see it: rendered by the GGUF's own template, with the assistant's turn
    /// opened and <paramref name="answered"/> (the answer so far, of a resumed job) after it, in the model's tokens. Null
    /// when the GGUF has no template llama.cpp can apply.
    /// </summary>
    /// <remarks>The rendering's special tokens (turn markers such as <c>&lt;|eot_id|&gt;</c>) are parsed as such, as
    /// llama.cpp's own server does: as plain text they would be pieces of words the model never saw as turns.</remarks>
    public LLamaToken[]? TokenizeChat(IEnumerable<(string Role, string Content)> messages, string answered = "") =>
        _chatTemplate is { } template
            ? _weights.Tokenize(RenderChat(template, messages) + answered, Vocabulary.ShouldAddBOS, special: true, Encoding.UTF8)
            : null;

    /// <summary>Turns one sequence's tokens into text as they come, holding back the bytes of a character split across tokens.</summary>
    public LlamaTokenText CreateTokenText() => new(_weights.NativeHandle);

    public void Dispose() => _weights.Dispose();

    private static string RenderChat(string template, IEnumerable<(string Role, string Content)> messages)
    {
        // llama.cpp takes each content as a C string, which ends at a NUL character: the rest of the turn was lost
        // without a word. A NUL goes in as a random marker no content can hold, and comes back after the rendering.
        var turns = messages.ToList();
        var nul = turns.Any(t => t.Content.Contains('\0', StringComparison.Ordinal)) ? $"<nul-{Guid.NewGuid():N}>" : null;
        var chat = new LLamaTemplate(template) { AddAssistant = true };
        foreach (var (role, content) in turns)
        {
            chat.Add(role, nul is null ? content : content.Replace("\0", nul, StringComparison.Ordinal));
        }

        var text = Encoding.UTF8.GetString(chat.Apply());
        return nul is null ? text : text.Replace(nul, "\0", StringComparison.Ordinal);
    }

    /// <summary>The GGUF's template if llama.cpp knows it. llama.cpp applies only templates it recognises (it has no
    /// Jinja engine); one it does not is found here, once, rather than failing every chat the model is given.</summary>
    private static string? ApplicableChatTemplate(LLamaWeights weights)
    {
        // Read as metadata, into a buffer of the value's size: LLamaSharp's GetTemplate searched the native string for
        // its terminator through a span of int.MaxValue bytes, whose vectorised search can read past the string's end
        // into an unmapped page — it killed a test host with an AccessViolationException (ci152). llama.cpp's default
        // template is this key's value (it names a built-in template only for one Mistral model that lacks the key).
        if (!weights.Metadata.TryGetValue(ChatTemplateKey, out var template) || template.Length == 0)
        {
            return null;
        }

        try
        {
            RenderChat(template, [("user", "probe")]);
            return template;
        }
        catch (MissingTemplateException)
        {
            return null;
        }
    }

    // GGUF's key for the model's default chat template.
    private const string ChatTemplateKey = "tokenizer.chat_template";

    private static bool StartsWithGgufMagic(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        using var file = File.OpenRead(path);
        return file.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false) == magic.Length && magic.SequenceEqual(GgufMagic);
    }
}
