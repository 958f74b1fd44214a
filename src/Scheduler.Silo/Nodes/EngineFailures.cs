using Scheduler.Protos.Errors;
using Proto = Scheduler.Protos.V1;

namespace Scheduler.Silo.Nodes;

/// <summary>
/// How an engine's failure of a job reads in the job's error, and which failures are the request's fault. An engine
/// that counts the prompt with the model's own tokenizer can find it too long for the context after the front door's
/// count let it through; that is the client's to fix (shorten the prompt, lower max_tokens), not a server error it
/// should retry, so the job's error says so in a form the OpenAI door recognises (<see cref="RequestFault"/>).
/// </summary>
internal static class EngineFailures
{
    private const string OverContext = "the prompt does not fit the model's context: ";
    private const string OutOfVocabulary = "the prompt is not in the model's vocabulary: ";
    private const string EngineFault = "the engine could not run the job: ";

    /// <summary>The job's error for an engine's <see cref="Proto.FinishReason.Error"/>.</summary>
    public static string Describe(Proto.SequenceFinished done) => done.ErrorReason switch
    {
        ErrorReasons.ContextLengthExceeded => OverContext + done.Error,
        ErrorReasons.TokenOutOfVocabulary => OutOfVocabulary + done.Error,
        _ => EngineFault + done.Error,
    };

    /// <summary>The reason (<see cref="ErrorReasons"/>) when a failed job's <paramref name="error"/> was its request's
    /// fault, else null.</summary>
    public static string? RequestFault(string? error) =>
        error is null ? null
        : error.StartsWith(OverContext, StringComparison.Ordinal) ? ErrorReasons.ContextLengthExceeded
        : error.StartsWith(OutOfVocabulary, StringComparison.Ordinal) ? ErrorReasons.TokenOutOfVocabulary
        : null;
}
