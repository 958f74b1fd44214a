using System.Text;
using Scheduler.Testing;
using Scheduler.Worker.Engines.Llama;

namespace Scheduler.Tests.Worker.Llama;

/// <summary>The tiny GGUF models written to a temporary folder and loaded once for a test class.</summary>
public sealed class TinyModelFixture : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("tiny-gguf-");

    public TinyModelFixture()
    {
        Path = TinyGguf.Write(_directory.FullName);
        EndingPath = TinyGguf.WriteEndingAtOnce(_directory.FullName);
        ChatPath = TinyGguf.WriteWithChatTemplate(_directory.FullName);
        ScriptedPath = TinyGguf.WriteScripted(_directory.FullName, "tiny-scripted.gguf", Script);
        CyclingPath = TinyGguf.WriteScripted(_directory.FullName, "tiny-cycling.gguf", Cycle);
        Model = LlamaModel.Load(Path, "test", gpuLayers: null);
        EndingModel = LlamaModel.Load(EndingPath, "test", gpuLayers: null);
        ChatModel = LlamaModel.Load(ChatPath, "test", gpuLayers: null);
        ScriptedModel = LlamaModel.Load(ScriptedPath, "test", gpuLayers: null);
    }

    /// <summary>What <see cref="ScriptedPath"/> writes: " hello", 中 (E4 B8 AD), " 日本" (one piece), 😀 (F0 9F 98 80, a
    /// surrogate pair), "e" and a combining acute (CC 81), ",", and the lead byte of a character it never finishes
    /// before its end of sequence.</summary>
    public static IReadOnlyList<string> Script { get; } =
        ["▁hello", "<0xE4>", "<0xB8>", "<0xAD>", "▁日本", "<0xF0>", "<0x9F>", "<0x98>", "<0x80>", "e", "<0xCC>", "<0x81>", ",", "<0xE6>", "</s>"];

    /// <summary>What <see cref="CyclingPath"/> writes over and over: <see cref="Script"/> up to its ",".</summary>
    public static IReadOnlyList<string> Cycle { get; } = [.. Script.Take(13)];

    /// <summary>The model that never ends by itself.</summary>
    public string Path { get; }

    /// <summary>The model whose first token is always end-of-sequence.</summary>
    public string EndingPath { get; }

    /// <summary>The model of <see cref="Path"/> with a ChatML chat template in its metadata.</summary>
    public string ChatPath { get; }

    /// <summary>The model that writes <see cref="Script"/>, whatever the prompt (<see cref="TinyGguf.WriteScripted"/>).</summary>
    public string ScriptedPath { get; }

    /// <summary>The model that writes <see cref="Cycle"/> and starts it again, whatever the prompt.</summary>
    public string CyclingPath { get; }

    internal LlamaModel Model { get; }

    internal LlamaModel EndingModel { get; }

    internal LlamaModel ChatModel { get; }

    internal LlamaModel ScriptedModel { get; }

    /// <summary>The text of the first <paramref name="tokens"/> tokens <paramref name="script"/> writes (from its start,
    /// again and again), as UTF-8 decoding of their bytes gives it: a byte token is its byte, a word piece its text with
    /// "▁" a space, the end of sequence nothing.</summary>
    public static string ScriptText(IReadOnlyList<string> script, int tokens)
    {
        var bytes = Enumerable.Range(0, tokens).SelectMany(i => script[i % script.Count] switch
        {
            ['<', '0', 'x', _, _, '>'] and var piece => [Convert.ToByte(piece[3..5], 16)],
            "</s>" => [],
            var piece => Encoding.UTF8.GetBytes(piece.Replace('▁', ' ')),
        });
        return Encoding.UTF8.GetString([.. bytes]);
    }

    public void Dispose()
    {
        Model.Dispose();
        EndingModel.Dispose();
        ChatModel.Dispose();
        ScriptedModel.Dispose();
        _directory.Delete(recursive: true);
    }
}
