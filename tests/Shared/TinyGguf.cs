using System.Text;

namespace Scheduler.Testing;

/// <summary>
/// Writes a tiny llama-architecture GGUF v3 model (ggml docs/gguf.md): 2 layers, width 64, 4 heads (<see cref="Tiny"/>;
/// the benchmark also writes <see cref="Wide"/> and <see cref="Large"/>), random F32 weights from a fixed seed, and a SentencePiece vocabulary of control tokens, the 256 byte tokens and a few
/// words — enough for llama.cpp to load it, tokenize text and generate, since no real model can be downloaded here.
/// Compiled into the tests and the llama benchmark (bench/Scheduler.Bench.Llama), which measure the same model.
/// </summary>
/// <remarks>
/// Embedding component 0 is a constant the layers never write to, so every hidden state has a positive first
/// component; the output rows' first components then decide which tokens can never win: control and byte tokens
/// (the text is made of word pieces) and the end-of-sequence token (<see cref="Write"/>: sampling runs to
/// max_tokens), or all but end-of-sequence (<see cref="WriteEndingAtOnce"/>).
/// </remarks>
internal static class TinyGguf
{
    public const int TrainedContext = 2048;

    /// <summary>The tests' model: 2 layers of width 64, about 500 KB.</summary>
    public static readonly ModelShape Tiny = new(Width: 64, Layers: 2, Heads: 4, FeedForward: 128);

    /// <summary>A model whose decode cost is mostly its weights, as a real model's is (about 51 MB: 4 layers of width
    /// 512), for the llama benchmark; same vocabulary and generation behaviour as <see cref="Tiny"/>.</summary>
    public static readonly ModelShape Wide = new(Width: 512, Layers: 4, Heads: 8, FeedForward: 1408);

    /// <summary>A model far larger than the CPU's caches (about 405 MB: 8 layers of width 1024), so a decode call of a few
    /// sequences is bound by reading the weights from memory, as a real model's is on an accelerator; for the llama benchmark.</summary>
    public static readonly ModelShape Large = new(Width: 1024, Layers: 8, Heads: 16, FeedForward: 2816);

    private const uint Alignment = 32;
    private const int EndOfSequence = 2;
    private const int FirstPiece = 3 + 256;

    // GGUF metadata value types.
    private const uint TypeUInt32 = 4;
    private const uint TypeInt32 = 5;
    private const uint TypeFloat32 = 6;
    private const uint TypeBool = 7;
    private const uint TypeString = 8;
    private const uint TypeArray = 9;

    // llama.cpp token types.
    private const int Normal = 1;
    private const int Unknown = 2;
    private const int Control = 3;
    private const int Byte = 6;

    private static readonly string[] Words =
    [
        "the", "a", "model", "token", "batch", "step", "cache", "fast", "queue", "fair", "hello", "world",
        "node", "silo", "stream", "prompt",
    ];

    /// <summary>The ChatML template as Hugging Face tokenizer configs spell it in Jinja; llama.cpp recognises it by its
    /// turn markers.</summary>
    public const string ChatMlTemplate =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /// <summary>A model that never samples its end-of-sequence token, and has no chat template.</summary>
    public static string Write(string directory) => WriteModel(Path.Combine(directory, "tiny.gguf"), Tiny, endsAtOnce: false, chatTemplate: null);

    /// <summary>The model of <see cref="Write"/> with another <paramref name="shape"/>.</summary>
    public static string WriteShaped(string directory, ModelShape shape) =>
        WriteModel(Path.Combine(directory, $"tiny-{shape.Width}x{shape.Layers}.gguf"), shape, endsAtOnce: false, chatTemplate: null);

    /// <summary>A model whose most likely next token is always end-of-sequence.</summary>
    public static string WriteEndingAtOnce(string directory) => WriteModel(Path.Combine(directory, "tiny-eos.gguf"), Tiny, endsAtOnce: true, chatTemplate: null);

    /// <summary>The model of <see cref="Write"/> with <see cref="ChatMlTemplate"/> as its <c>tokenizer.chat_template</c>.</summary>
    public static string WriteWithChatTemplate(string directory) => WriteModel(Path.Combine(directory, "tiny-chat.gguf"), Tiny, endsAtOnce: false, ChatMlTemplate);

    /// <summary>
    /// A model that writes <paramref name="script"/> and then starts it again, whatever the prompt: each entry is a piece
    /// as the vocabulary spells it ("▁hello", "&lt;0xE4&gt;" for a byte token, "&lt;/s&gt;" for end of sequence), and an
    /// entry the vocabulary lacks is added to it as a word piece, with its prefixes. Entries must differ.
    /// </summary>
    /// <remarks>Its layers write nothing to the residual stream (zero output projections), so the next token depends on
    /// the current one alone: each entry's embedding has a component of its own, which the output row of the entry after
    /// it reads; component 0, which every embedding has, leads any other token into the script's first entry. The winning
    /// logit leads the others by more than 100, so a draw at any temperature follows the script.</remarks>
    public static string WriteScripted(string directory, string name, IReadOnlyList<string> script)
    {
        var width = Tiny.Width;
        if (script.Count >= width || script.Distinct().Count() != script.Count)
        {
            throw new ArgumentException($"A script is at most {width - 1} distinct pieces.", nameof(script));
        }

        // With every prefix of a new piece, as for the words: the tokenizer merges towards it, so a text the model wrote is
        // tokenized into the pieces it wrote (a resume prefills them).
        var vocabulary = Vocabulary();
        foreach (var piece in script.SelectMany(Prefixes).Where(p => vocabulary.All(v => v.Text != p)))
        {
            vocabulary.Add((piece, piece.Length, Normal));
        }

        var embeddings = new float[width * vocabulary.Count];
        var output = new float[width * vocabulary.Count];
        for (var token = 0; token < vocabulary.Count; token++)
        {
            embeddings[token * width] = 4f;
        }

        var ids = script.Select(piece => vocabulary.FindIndex(v => v.Text == piece)).ToArray();
        output[ids[0] * width] = 5f;
        for (var entry = 0; entry < ids.Length; entry++)
        {
            embeddings[(ids[entry] * width) + 1 + entry] = 8f;
            output[(ids[(entry + 1) % ids.Length] * width) + 1 + entry] = 20f;
        }

        var tensors = new List<(string Name, int[] Shape, float[] Data)>
        {
            ("token_embd.weight", [width, vocabulary.Count], embeddings),
            ("output_norm.weight", [width], Ones(width)),
            ("output.weight", [width, vocabulary.Count], output),
        };
        AddLlamaLayers(tensors, Tiny, new Random(1234), silent: true);
        return WriteFile(Path.Combine(directory, name), "llama", LlamaHyperparameters(Tiny), vocabulary, tensors, chatTemplate: null);
    }

    /// <summary>A recurrent model (llama.cpp's <c>mamba</c> architecture, 2 layers of width 64) with the same vocabulary:
    /// llama.cpp loads it and generates with it, but its per-sequence state cannot be cut back to a prefix as a KV
    /// cache can.</summary>
    public static string WriteRecurrent(string directory)
    {
        const int Width = 64, Layers = 2, Inner = 2 * Width, Convolution = 4, State = 16, Rank = Width / 16;
        var vocabulary = Vocabulary();
        var random = new Random(1234);
        var tensors = new List<(string Name, int[] Shape, float[] Data)>
        {
            ("token_embd.weight", [Width, vocabulary.Count], Embeddings(random, Width, vocabulary.Count)),
            ("output_norm.weight", [Width], Ones(Width)),
            ("output.weight", [Width, vocabulary.Count], OutputRows(random, Width, vocabulary.Count, endsAtOnce: false)),
        };
        for (var layer = 0; layer < Layers; layer++)
        {
            var prefix = $"blk.{layer}.";
            tensors.Add((prefix + "attn_norm.weight", [Width], Ones(Width)));
            tensors.Add((prefix + "ssm_in.weight", [Width, 2 * Inner], Random(random, Width * 2 * Inner)));
            tensors.Add((prefix + "ssm_conv1d.weight", [Convolution, Inner], Random(random, Convolution * Inner)));
            tensors.Add((prefix + "ssm_conv1d.bias", [Inner], Random(random, Inner)));
            tensors.Add((prefix + "ssm_x.weight", [Inner, Rank + (2 * State)], Random(random, Inner * (Rank + (2 * State)))));
            tensors.Add((prefix + "ssm_dt.weight", [Rank, Inner], Random(random, Rank * Inner)));
            tensors.Add((prefix + "ssm_dt.bias", [Inner], Random(random, Inner)));
            tensors.Add((prefix + "ssm_a", [State, Inner], Enumerable.Repeat(-1f, State * Inner).ToArray()));
            tensors.Add((prefix + "ssm_d", [Inner], Ones(Inner)));
            tensors.Add((prefix + "ssm_out.weight", [Inner, Width], SparingComponentZero(Random(random, Inner * Width), Inner)));
        }

        List<(string Key, uint Value)> hyperparameters =
        [
            ("mamba.context_length", TrainedContext), ("mamba.embedding_length", Width), ("mamba.block_count", Layers),
            ("mamba.feed_forward_length", 0), ("mamba.attention.head_count", 0), ("mamba.ssm.conv_kernel", Convolution),
            ("mamba.ssm.inner_size", Inner), ("mamba.ssm.state_size", State), ("mamba.ssm.time_step_rank", Rank),
        ];
        return WriteFile(Path.Combine(directory, "tiny-mamba.gguf"), "mamba", hyperparameters, vocabulary, tensors, chatTemplate: null);
    }

    private static string WriteModel(string path, ModelShape dimensions, bool endsAtOnce, string? chatTemplate)
    {
        var width = dimensions.Width;
        var vocabulary = Vocabulary();
        var random = new Random(1234);
        var tensors = new List<(string Name, int[] Shape, float[] Data)>
        {
            ("token_embd.weight", [width, vocabulary.Count], Embeddings(random, width, vocabulary.Count)),
            ("output_norm.weight", [width], Ones(width)),
            ("output.weight", [width, vocabulary.Count], OutputRows(random, width, vocabulary.Count, endsAtOnce)),
        };
        AddLlamaLayers(tensors, dimensions, random, silent: false);
        return WriteFile(path, "llama", LlamaHyperparameters(dimensions), vocabulary, tensors, chatTemplate);
    }

    /// <summary>A piece's prefixes of two or more characters, itself last; a byte or control token is its own.</summary>
    private static IEnumerable<string> Prefixes(string piece) =>
        piece.StartsWith('<') ? [piece] : Enumerable.Range(Math.Min(2, piece.Length), piece.Length - Math.Min(2, piece.Length) + 1).Select(length => piece[..length]);

    /// <summary>Adds the attention and feed-forward layers of a llama model of <paramref name="shape"/>, random but for
    /// their output projections: <see cref="SparingComponentZero"/>, or all zero when <paramref name="silent"/> (the
    /// layers then write nothing to the residual stream).</summary>
    private static void AddLlamaLayers(List<(string Name, int[] Shape, float[] Data)> tensors, ModelShape shape, Random random, bool silent)
    {
        var (width, layers, _, feedForward) = shape;
        for (var layer = 0; layer < layers; layer++)
        {
            var prefix = $"blk.{layer}.";
            tensors.Add((prefix + "attn_norm.weight", [width], Ones(width)));
            tensors.Add((prefix + "attn_q.weight", [width, width], Random(random, width * width)));
            tensors.Add((prefix + "attn_k.weight", [width, width], Random(random, width * width)));
            tensors.Add((prefix + "attn_v.weight", [width, width], Random(random, width * width)));
            tensors.Add((prefix + "attn_output.weight", [width, width], silent ? new float[width * width] : SparingComponentZero(Random(random, width * width), width)));
            tensors.Add((prefix + "ffn_norm.weight", [width], Ones(width)));
            tensors.Add((prefix + "ffn_gate.weight", [width, feedForward], Random(random, width * feedForward)));
            tensors.Add((prefix + "ffn_up.weight", [width, feedForward], Random(random, width * feedForward)));
            tensors.Add((prefix + "ffn_down.weight", [feedForward, width], silent ? new float[feedForward * width] : SparingComponentZero(Random(random, feedForward * width), feedForward)));
        }
    }

    private static List<(string Key, uint Value)> LlamaHyperparameters(ModelShape shape) =>
    [
        ("llama.context_length", TrainedContext), ("llama.embedding_length", (uint)shape.Width), ("llama.block_count", (uint)shape.Layers),
        ("llama.feed_forward_length", (uint)shape.FeedForward), ("llama.attention.head_count", (uint)shape.Heads),
        ("llama.rope.dimension_count", (uint)(shape.Width / shape.Heads)),
    ];

    /// <summary>Writes a GGUF file of <paramref name="architecture"/> with its <paramref name="hyperparameters"/>, the
    /// SentencePiece <paramref name="vocabulary"/> and <paramref name="tensors"/>.</summary>
    private static string WriteFile(
        string path,
        string architecture,
        List<(string Key, uint Value)> hyperparameters,
        List<(string Text, float Score, int Type)> vocabulary,
        List<(string Name, int[] Shape, float[] Data)> tensors,
        string? chatTemplate)
    {
        using var file = File.Create(path);
        using var writer = new BinaryWriter(file, Encoding.UTF8);
        writer.Write("GGUF"u8);
        writer.Write(3u);
        writer.Write((ulong)tensors.Count);
        writer.Write((ulong)(hyperparameters.Count + (chatTemplate is null ? 10 : 11))); // metadata pairs, as written below

        WriteString(writer, "general.architecture", architecture);
        WriteString(writer, "general.name", "tiny");
        foreach (var (key, value) in hyperparameters)
        {
            WriteUInt32(writer, key, value);
        }

        Key(writer, $"{architecture}.attention.layer_norm_rms_epsilon", TypeFloat32);
        writer.Write(1e-5f);
        WriteString(writer, "tokenizer.ggml.model", "llama");

        Key(writer, "tokenizer.ggml.tokens", TypeArray);
        writer.Write(TypeString);
        writer.Write((ulong)vocabulary.Count);
        foreach (var (text, _, _) in vocabulary)
        {
            Text(writer, text);
        }

        Key(writer, "tokenizer.ggml.scores", TypeArray);
        writer.Write(TypeFloat32);
        writer.Write((ulong)vocabulary.Count);
        foreach (var (_, score, _) in vocabulary)
        {
            writer.Write(score);
        }

        Key(writer, "tokenizer.ggml.token_type", TypeArray);
        writer.Write(TypeInt32);
        writer.Write((ulong)vocabulary.Count);
        foreach (var (_, _, type) in vocabulary)
        {
            writer.Write(type);
        }

        WriteUInt32(writer, "tokenizer.ggml.bos_token_id", 1);
        WriteUInt32(writer, "tokenizer.ggml.eos_token_id", EndOfSequence);
        Key(writer, "tokenizer.ggml.add_bos_token", TypeBool);
        writer.Write(true);
        if (chatTemplate is not null)
        {
            WriteString(writer, "tokenizer.chat_template", chatTemplate);
        }

        // Tensor infos: ggml lists dimensions innermost first; offsets are relative to the aligned data section.
        ulong offset = 0;
        foreach (var (name, shape, data) in tensors)
        {
            Text(writer, name);
            writer.Write((uint)shape.Length);
            foreach (var dimension in shape)
            {
                writer.Write((ulong)dimension);
            }

            writer.Write(0u); // GGML_TYPE_F32
            writer.Write(offset);
            offset = Align((ulong)(offset + ((ulong)data.Length * sizeof(float))));
        }

        Pad(writer);
        var dataStart = writer.BaseStream.Position;
        foreach (var (_, _, data) in tensors)
        {
            foreach (var value in data)
            {
                writer.Write(value);
            }

            Pad(writer, dataStart);
        }

        return path;
    }

    /// <summary>SentencePiece pieces: "▁" marks a leading space; every prefix of a word is a piece, so merges reach it.</summary>
    private static List<(string Text, float Score, int Type)> Vocabulary()
    {
        var vocabulary = new List<(string, float, int)> { ("<unk>", 0, Unknown), ("<s>", 0, Control), ("</s>", 0, Control) };
        for (var b = 0; b < 256; b++)
        {
            vocabulary.Add(($"<0x{b:X2}>", 0, Byte));
        }

        var pieces = new List<string> { "▁", ".", "," };
        pieces.AddRange(Enumerable.Range('a', 26).Select(c => ((char)c).ToString()));
        foreach (var word in Words)
        {
            for (var length = 1; length <= word.Length; length++)
            {
                var piece = "▁" + word[..length];
                if (!pieces.Contains(piece))
                {
                    pieces.Add(piece);
                }
            }
        }

        // Longer pieces score higher, so the tokenizer merges towards whole words.
        vocabulary.AddRange(pieces.Select(p => (p, (float)p.Length, Normal)));
        return vocabulary;
    }

    private static float[] Embeddings(Random random, int width, int vocabularySize)
    {
        var data = Random(random, width * vocabularySize);
        for (var token = 0; token < vocabularySize; token++)
        {
            data[token * width] = 4f;
        }

        return data;
    }

    private static float[] OutputRows(Random random, int width, int vocabularySize, bool endsAtOnce)
    {
        var data = Random(random, width * vocabularySize);
        for (var token = 0; token < vocabularySize; token++)
        {
            // Control, unknown and byte tokens never win either: the text is made of word pieces.
            data[token * width] = token == EndOfSequence && endsAtOnce ? 50f : token < FirstPiece ? -50f : 0f;
        }

        return data;
    }

    /// <summary>Zeroes output component 0 of a projection whose ggml shape is [<paramref name="inputs"/>, width].</summary>
    private static float[] SparingComponentZero(float[] data, int inputs)
    {
        Array.Clear(data, 0, inputs);
        return data;
    }

    private static float[] Random(Random random, int count)
    {
        var data = new float[count];
        for (var i = 0; i < count; i++)
        {
            data[i] = (float)((random.NextDouble() * 2) - 1) * 0.2f;
        }

        return data;
    }

    private static float[] Ones(int count) => Enumerable.Repeat(1f, count).ToArray();

    private static ulong Align(ulong value) => (value + Alignment - 1) / Alignment * Alignment;

    private static void Pad(BinaryWriter writer, long origin = 0)
    {
        var position = (ulong)(writer.BaseStream.Position - origin);
        for (var i = position; i < Align(position); i++)
        {
            writer.Write((byte)0);
        }
    }

    private static void Key(BinaryWriter writer, string key, uint type)
    {
        Text(writer, key);
        writer.Write(type);
    }

    private static void WriteString(BinaryWriter writer, string key, string value)
    {
        Key(writer, key, TypeString);
        Text(writer, value);
    }

    private static void WriteUInt32(BinaryWriter writer, string key, uint value)
    {
        Key(writer, key, TypeUInt32);
        writer.Write(value);
    }

    private static void Text(BinaryWriter writer, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        writer.Write((ulong)bytes.Length);
        writer.Write(bytes);
    }
}

/// <summary>The dimensions of a model <see cref="TinyGguf"/> writes.</summary>
internal readonly record struct ModelShape(int Width, int Layers, int Heads, int FeedForward);
