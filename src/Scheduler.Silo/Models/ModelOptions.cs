namespace Scheduler.Silo.Models;

/// <summary>A model the scheduler accepts jobs for.</summary>
public sealed class ModelOptions
{
    public string Name { get; set; } = "";

    public int MaxContextTokens { get; set; } = 8192;

    public int MaxOutputTokens { get; set; } = 4096;

    /// <summary>Tokenizer used to count text prompts: "cl100k_base".</summary>
    public string Tokenizer { get; set; } = "cl100k_base";

    /// <summary>How a chat job's messages become the prompt: "llama3", "chatml" or "plain". Unset: "llama3" for a model
    /// named llama-3…, else "chatml". An engine that has the model's own template (a GGUF's) renders with that instead;
    /// this one still counts the prompt.</summary>
    public string? ChatTemplate { get; set; }

    /// <summary>TTFT objective for jobs that set none.</summary>
    public int DefaultTtftObjectiveMs { get; set; } = 2000;

    /// <summary>Largest prompt accepted, in bytes of UTF-8 text.</summary>
    public int MaxPromptBytes { get; set; } = 1 << 20;

    /// <summary>The model's vocabulary size (Llama 3.1: 128,256): a job given <c>prompt_token_ids</c> with an id at or
    /// above it is refused at submission rather than failed by its engine later. 0 (the default): not checked. It is the
    /// model's own vocabulary, not <see cref="Tokenizer"/>'s, which only counts text prompts. Not set in the silo's
    /// appsettings.json: a model renamed on the command line would inherit it (configuration arrays merge by index).</summary>
    public int VocabularySize { get; set; }
}
