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
        Model = LlamaModel.Load(Path, "test", gpuLayers: null);
        EndingModel = LlamaModel.Load(EndingPath, "test", gpuLayers: null);
        ChatModel = LlamaModel.Load(ChatPath, "test", gpuLayers: null);
    }

    /// <summary>The model that never ends by itself.</summary>
    public string Path { get; }

    /// <summary>The model whose first token is always end-of-sequence.</summary>
    public string EndingPath { get; }

    /// <summary>The model of <see cref="Path"/> with a ChatML chat template in its metadata.</summary>
    public string ChatPath { get; }

    internal LlamaModel Model { get; }

    internal LlamaModel EndingModel { get; }

    internal LlamaModel ChatModel { get; }

    public void Dispose()
    {
        Model.Dispose();
        EndingModel.Dispose();
        ChatModel.Dispose();
        _directory.Delete(recursive: true);
    }
}
