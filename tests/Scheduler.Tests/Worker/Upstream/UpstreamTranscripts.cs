namespace Scheduler.Tests.Worker.Upstream;

/// <summary>
/// Streaming responses as OpenAI-compatible servers send them, byte for byte in shape (ids and texts are this test's).
/// Each event is <c>data: {json}</c> and a blank line; the stream ends with <c>data: [DONE]</c>.
/// </summary>
internal static class UpstreamTranscripts
{
    /// <summary>
    /// vLLM <c>POST /v1/completions</c> with <c>stream: true, stream_options: {include_usage: true}</c>. Shape:
    /// vLLM's <c>CompletionStreamResponse</c> (vllm/entrypoints/openai/protocol.py; documented as the OpenAI
    /// completions stream at https://docs.vllm.ai/en/stable/serving/openai_compatible_server.html): choices carry
    /// <c>text</c>, <c>logprobs</c>, <c>finish_reason</c> and vLLM's <c>stop_reason</c>; <c>usage</c> is null on every
    /// chunk but the last, which has no choices. Four text chunks, five tokens: "," and " the" came in one chunk.
    /// </summary>
    public const string VllmCompletion =
        """
        data: {"id":"cmpl-5f0c1e2d3b4a","object":"text_completion","created":1764640000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"text":" Paris","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null}

        data: {"id":"cmpl-5f0c1e2d3b4a","object":"text_completion","created":1764640000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"text":", the","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null}

        data: {"id":"cmpl-5f0c1e2d3b4a","object":"text_completion","created":1764640000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"text":" capital","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null}

        data: {"id":"cmpl-5f0c1e2d3b4a","object":"text_completion","created":1764640000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"text":" of","logprobs":null,"finish_reason":"length","stop_reason":null}],"usage":null}

        data: {"id":"cmpl-5f0c1e2d3b4a","object":"text_completion","created":1764640000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[],"usage":{"prompt_tokens":6,"total_tokens":11,"completion_tokens":5,"prompt_tokens_details":null}}

        data: [DONE]


        """;

    /// <summary>
    /// vLLM <c>POST /v1/chat/completions</c>, streaming with usage. Shape: vLLM's <c>ChatCompletionStreamResponse</c>
    /// (same source), which follows OpenAI's <c>chat.completion.chunk</c>: the first delta carries the role and empty
    /// content, the last choice an empty content and the finish reason, then a usage chunk without choices.
    /// </summary>
    public const string VllmChat =
        """
        data: {"id":"chatcmpl-8d7e6f","object":"chat.completion.chunk","created":1764640001,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}

        data: {"id":"chatcmpl-8d7e6f","object":"chat.completion.chunk","created":1764640001,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}]}

        data: {"id":"chatcmpl-8d7e6f","object":"chat.completion.chunk","created":1764640001,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":{"content":" there"},"logprobs":null,"finish_reason":null}]}

        data: {"id":"chatcmpl-8d7e6f","object":"chat.completion.chunk","created":1764640001,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"stop","stop_reason":null}]}

        data: {"id":"chatcmpl-8d7e6f","object":"chat.completion.chunk","created":1764640001,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[],"usage":{"prompt_tokens":12,"total_tokens":14,"completion_tokens":2}}

        data: [DONE]


        """;

    /// <summary>
    /// Groq <c>POST /openai/v1/chat/completions</c> with <c>stream: true</c>. Shape: Groq's API reference
    /// (https://console.groq.com/docs/api-reference#chat-create, the streaming example): OpenAI chunks plus an
    /// <c>x_groq</c> object — its id (and seed) on the first chunk, the request's <c>usage</c> with Groq's timings on the
    /// last one, which also carries the finish reason and an empty delta.
    /// </summary>
    public const string GroqChat =
        """
        data: {"id":"chatcmpl-bc4c2b5f-ad1c-4152-831f-a0885de968a3","object":"chat.completion.chunk","created":1764640002,"model":"llama-3.3-70b-versatile","system_fingerprint":"fp_c06d5113ec","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"x_groq":{"id":"req_01kbqz0000000000000000000","seed":2093329955}}

        data: {"id":"chatcmpl-bc4c2b5f-ad1c-4152-831f-a0885de968a3","object":"chat.completion.chunk","created":1764640002,"model":"llama-3.3-70b-versatile","system_fingerprint":"fp_c06d5113ec","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}]}

        data: {"id":"chatcmpl-bc4c2b5f-ad1c-4152-831f-a0885de968a3","object":"chat.completion.chunk","created":1764640002,"model":"llama-3.3-70b-versatile","system_fingerprint":"fp_c06d5113ec","choices":[{"index":0,"delta":{"content":" World"},"logprobs":null,"finish_reason":null}]}

        data: {"id":"chatcmpl-bc4c2b5f-ad1c-4152-831f-a0885de968a3","object":"chat.completion.chunk","created":1764640002,"model":"llama-3.3-70b-versatile","system_fingerprint":"fp_c06d5113ec","choices":[{"index":0,"delta":{"content":"!"},"logprobs":null,"finish_reason":null}]}

        data: {"id":"chatcmpl-bc4c2b5f-ad1c-4152-831f-a0885de968a3","object":"chat.completion.chunk","created":1764640002,"model":"llama-3.3-70b-versatile","system_fingerprint":"fp_c06d5113ec","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"x_groq":{"id":"req_01kbqz0000000000000000000","usage":{"queue_time":0.090321431,"prompt_tokens":38,"prompt_time":0.003210785,"completion_tokens":4,"completion_time":0.027554055,"total_tokens":42,"total_time":0.03076484}}}

        data: [DONE]


        """;

    /// <summary>
    /// vLLM failing after the stream started: it sends an error object as an event (its
    /// <c>create_streaming_error_response</c>, the OpenAI error shape) and then <c>[DONE]</c>.
    /// </summary>
    public const string VllmErrorMidStream =
        """
        data: {"id":"cmpl-77aa","object":"text_completion","created":1764640003,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"text":" Once","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null}

        data: {"error":{"message":"The engine loop has stopped","type":"InternalServerError","param":null,"code":500}}

        data: [DONE]


        """;

    /// <summary>The error event of vLLM releases before 0.6 (a flat <c>ErrorResponse</c> with <c>object: "error"</c>).</summary>
    public const string VllmLegacyErrorEvent =
        """{"object":"error","message":"Request was aborted by the engine","type":"BadRequestError","param":null,"code":400}""";
}
