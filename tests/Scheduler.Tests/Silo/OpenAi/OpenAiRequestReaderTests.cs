using System.Text.Json;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RequestDecompression;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Scheduler.Silo.Api;
using Scheduler.Silo.Models;
using Scheduler.Silo.OpenAi;

namespace Scheduler.Tests.Silo.OpenAi;

public sealed class OpenAiRequestReaderTests
{
    private readonly OpenAiRequestReader _reader = NewReader();

    /// <summary>A reader for model "m" (at most 300 output tokens), decoding bodies as the silo does.</summary>
    internal static OpenAiRequestReader NewReader() => new(
        new ModelCatalog(Options.Create(new ModelCatalogOptions { Models = [new ModelOptions { Name = "m", MaxOutputTokens = 300 }] })),
        new ServiceCollection().AddLogging().AddRequestDecompression().BuildServiceProvider().GetRequiredService<IRequestDecompressionProvider>(),
        new RequestBodyBudget(Options.Create(new ApiOptions())));

    private OpenAiRequest Read(string json, OpenAiKind kind = OpenAiKind.Completion)
    {
        using var document = JsonDocument.Parse(json);
        return _reader.Read(document.RootElement, kind);
    }

    private string? RefusedParam(string json, OpenAiKind kind = OpenAiKind.Completion)
    {
        var ex = Assert.Throws<RpcException>(() => Read(json, kind));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        return SchedulerErrors.FieldOf(ex);
    }

    [Fact]
    public void Read_Completion_MapsSamplingStopAndStream()
    {
        var request = Read("""
            {"model":"m","prompt":"hi","max_tokens":5,"temperature":0.5,"top_p":0.9,"seed":-1,"stop":["a","b"],"user":"u-1",
             "stream":true,"stream_options":{"include_usage":true},"n":1,"logprobs":null,"presence_penalty":0,"some_future_field":{"x":1}}
            """);

        var submit = request.Submit;
        Assert.Equal(("m", "hi", 5), (submit.Model, submit.Prompt, submit.MaxTokens));
        Assert.Equal(0.5f, submit.Temperature);
        Assert.Equal(0.9f, submit.TopP);
        Assert.Equal(ulong.MaxValue, submit.Seed);
        Assert.Equal(["a", "b"], submit.StopSequences);
        Assert.Equal("", submit.Stop);
        Assert.True(request.Stream);
        Assert.True(request.IncludeUsage);
        Assert.Equal("u-1", request.User);
    }

    [Theory]
    [InlineData("""{"model":"m","prompt":[[1,2,3]]}""", "", new[] { 1, 2, 3 })]
    [InlineData("""{"model":"m","prompt":["hi"]}""", "hi", new int[0])]
    public void Read_Completion_ABatchOfOne_IsThatPrompt(string json, string text, int[] ids)
    {
        var submit = Read(json).Submit;

        Assert.Equal(text, submit.Prompt);
        Assert.Equal(ids, submit.PromptTokenIds);
    }

    [Theory]
    [InlineData("""{"model":"m","prompt":"x","top_logprobs":0,"logprobs":false}""", false)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"top_logprobs":0}""", true)]
    [InlineData("""{"model":"m","prompt":"x","stream":false,"stream_options":null}""", false)]
    public void Read_NeutralValues_AskingForNothingExtra_AreAccepted(string json, bool chat) =>
        Assert.Equal("m", Read(json, chat ? OpenAiKind.Chat : OpenAiKind.Completion).Submit.Model);

    [Fact]
    public void Read_Completion_StopStringTokenIdsAndDefaultMaxTokens()
    {
        var request = Read("""{"model":"m","prompt":[1,2,3],"stop":"END"}""");

        Assert.Equal([1, 2, 3], request.Submit.PromptTokenIds);
        Assert.Equal("END", request.Submit.Stop);
        Assert.Equal(OpenAiRequestReader.DefaultCompletionMaxTokens, request.Submit.MaxTokens);
        Assert.False(request.Stream);
        Assert.False(request.IncludeUsage);
        Assert.False(request.Submit.HasTemperature);
    }

    [Theory]
    [InlineData("""{"model":"m","prompt":"x","stop":""}""", new string[0])]
    [InlineData("""{"model":"m","prompt":"x","stop":[""]}""", new string[0])]
    [InlineData("""{"model":"m","prompt":"x","stop":["","END",""]}""", new[] { "END" })]
    public void Read_EmptyStopText_AloneOrInAList_IsNoStop(string json, string[] stops)
    {
        // [""] went on to the validator, which refuses an empty stop_sequences text: a 400 naming stop, while "" passed as
        // no stop (OpenAiRequestContractTests sends both to the live silo).
        var submit = Read(json).Submit;

        Assert.Equal("", submit.Stop);
        Assert.Equal(stops, submit.StopSequences);
    }

    [Fact]
    public void Read_Chat_MessagesWithTextParts_MaxCompletionTokensWins_DefaultIsTheModelsMaxOutput()
    {
        var request = Read("""
            {"model":"m","max_tokens":9,"max_completion_tokens":7,"messages":[
              {"role":"developer","content":"Be brief."},
              {"role":"user","content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]},
              {"role":"assistant","content":"ok","tool_calls":[]}]}
            """, OpenAiKind.Chat);

        Assert.Equal(7, request.Submit.MaxTokens);
        Assert.Equal(
            [("system", "Be brief."), ("user", "one\ntwo"), ("assistant", "ok")],
            request.Submit.Messages.Select(m => (m.Role, m.Content)));
        Assert.Equal(300, Read("""{"model":"m","messages":[{"role":"user","content":"x"}]}""", OpenAiKind.Chat).Submit.MaxTokens);
    }

    [Fact]
    public void Read_WithoutMaxTokens_ChatAndCompletion_AreFittedDefaults()
    {
        // A completion's legacy default of 16 was sent as if the client had asked for it: refused by a small quota naming max_tokens.
        var completion = Read("""{"model":"m","prompt":"x"}""");
        var chat = Read("""{"model":"m","messages":[{"role":"user","content":"x"}]}""", OpenAiKind.Chat);

        Assert.Equal((16, true), (completion.Submit.MaxTokens, completion.FitMaxTokens));
        Assert.True(chat.FitMaxTokens);
    }

    [Theory]
    [InlineData("""{"model":"m","prompt":"x","max_completion_tokens":4}""", 4, "max_completion_tokens")]
    [InlineData("""{"model":"m","prompt":"x","max_tokens":9,"max_completion_tokens":7}""", 7, "max_completion_tokens")]
    [InlineData("""{"model":"m","prompt":"x","max_tokens":9}""", 9, "max_tokens")]
    public void Read_Completion_MaxCompletionTokens_IsHonoured_AndWinsAsInChat(string json, int maxTokens, string field)
    {
        // It was ignored: a completion asking for 4 tokens got the legacy default of 16 (an outside probe).
        var request = Read(json);

        Assert.Equal((maxTokens, field), (request.Submit.MaxTokens, request.MaxTokensField));
        Assert.False(request.FitMaxTokens);
    }

    [Theory]
    [InlineData("""{"model":"m","prompt":"x","n":2}""", "n")]
    [InlineData("""{"model":"m","prompt":"x","best_of":3}""", "best_of")]
    [InlineData("""{"model":"m","prompt":"x","logprobs":2}""", "logprobs")]
    [InlineData("""{"model":"m","prompt":"x","echo":true}""", "echo")]
    [InlineData("""{"model":"m","prompt":"x","suffix":"end"}""", "suffix")]
    [InlineData("""{"model":"m","prompt":"x","logit_bias":{"50256":-100}}""", "logit_bias")]
    [InlineData("""{"model":"m","prompt":"x","frequency_penalty":0.5}""", "frequency_penalty")]
    [InlineData("""{"model":"m","prompt":"x","tools":[{"type":"function"}]}""", "tools")]
    [InlineData("""{"model":"m","prompt":"x","tool_choice":"required"}""", "tool_choice")]
    [InlineData("""{"model":"m","prompt":"x","response_format":{"type":"json_object"}}""", "response_format")]
    [InlineData("""{"model":"m","prompt":"x","top_logprobs":2}""", "top_logprobs")]
    [InlineData("""{"model":"m","prompt":"x","min_p":0.1}""", "min_p")]
    [InlineData("""{"model":"m","prompt":"x","repetition_penalty":1.1}""", "repetition_penalty")]
    [InlineData("""{"model":"m","prompt":"x","length_penalty":0.5}""", "length_penalty")]
    [InlineData("""{"model":"m","prompt":"x","min_tokens":5}""", "min_tokens")]
    [InlineData("""{"model":"m","prompt":"x","ignore_eos":true}""", "ignore_eos")]
    [InlineData("""{"model":"m","prompt":"x","use_beam_search":true}""", "use_beam_search")]
    [InlineData("""{"model":"m","prompt":"x","include_stop_str_in_output":true}""", "include_stop_str_in_output")]
    [InlineData("""{"model":"m","prompt":"x","stop_token_ids":[2]}""", "stop_token_ids")]
    [InlineData("""{"model":"m","prompt":"x","guided_json":{"type":"object"}}""", "guided_json")]
    [InlineData("""{"model":"m","prompt":"x","guided_regex":"a+"}""", "guided_regex")]
    [InlineData("""{"model":"m","prompt":"x","guided_choice":["a","b"]}""", "guided_choice")]
    [InlineData("""{"model":"m","prompt":"x","guided_grammar":"root ::= x"}""", "guided_grammar")]
    [InlineData("""{"model":"m","prompt":"x","max_tokens":"ten"}""", "max_tokens")]
    [InlineData("""{"model":"m","prompt":"x","max_tokens":1.5}""", "max_tokens")]
    [InlineData("""{"model":"m","prompt":"x","temperature":"hot"}""", "temperature")]
    [InlineData("""{"model":"m","prompt":"x","stream":"yes"}""", "stream")]
    [InlineData("""{"model":7,"prompt":"x"}""", "model")]
    [InlineData("""{"model":"m","prompt":"x","stop":[1]}""", "stop")]
    [InlineData("""{"model":"m","prompt":["a","b"]}""", "prompt")]
    [InlineData("""{"model":"m"}""", "prompt")]
    [InlineData("""[1]""", "body")]
    public void Read_Completion_UnsupportedOrMistypedField_IsRefusedNamingIt(string json, string param) =>
        Assert.Equal(param, RefusedParam(json));

    [Theory]
    [InlineData("""{"model":"m","messages":[]}""", "messages")]
    [InlineData("""{"model":"m","messages":[{"content":"x"}]}""", "messages[0].role")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":null}]}""", "messages[0].content")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}""", "messages[1].content[0].type")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":3}]}]}""", "messages[0].content[0].text")]
    [InlineData("""{"model":"m","messages":[{"role":"assistant","content":"x","tool_calls":[{"id":"1"}]}]}""", "messages[0].tool_calls")]
    [InlineData("""{"model":"m","messages":[{"role":3,"content":"x"}]}""", "messages[0].role")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"max_completion_tokens":"x"}""", "max_completion_tokens")]
    public void Read_Chat_BadMessageOrField_IsRefusedNamingIt(string json, string param) =>
        Assert.Equal(param, RefusedParam(json, OpenAiKind.Chat));

    [Fact]
    public void Read_Chat_UnknownRole_ListsEveryRoleTaken_DeveloperToo()
    {
        var ex = Assert.Throws<RpcException>(() => Read("""{"model":"m","messages":[{"role":"robot","content":"x"}]}""", OpenAiKind.Chat));

        Assert.Equal("messages[0].role: must be one of system, user, assistant, tool, developer, got 'robot'", ex.Status.Detail);
    }

    [Theory]
    [InlineData("""{"model":"m","prompt":"a\ud800b"}""", false, "prompt")]
    [InlineData("""{"model":"m","prompt":["a\udc00"]}""", false, "prompt")]
    [InlineData("""{"model":"m","prompt":"a","stop":"\ud800"}""", false, "stop")]
    [InlineData("""{"model":"m","prompt":"a","stop":["x","\ud800"]}""", false, "stop")]
    [InlineData("""{"model":"m","prompt":"a","suffix":"\ud800"}""", false, "suffix")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"\ud800"}]}""", true, "messages[0].content")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"\ud800"}]}]}""", true, "messages[0].content[0].text")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"\ud800","text":"x"}]}]}""", true, "messages[0].content[0].type")]
    public void Read_TextWithALoneSurrogate_IsRefusedNamingIt(string json, bool chat, string param) =>
        Assert.Equal(param, RefusedParam(json, chat ? OpenAiKind.Chat : OpenAiKind.Completion));

    [Fact]
    public void Read_VllmFieldsAtTheirNeutralValues_AskForNothing_AndAreTaken()
    {
        var request = Read("""
            {"model":"m","prompt":"x","min_p":0,"repetition_penalty":1,"length_penalty":1,"min_tokens":0,"ignore_eos":false,
             "use_beam_search":false,"include_stop_str_in_output":false,"stop_token_ids":[],"guided_json":null}
            """);

        Assert.Equal("x", request.Submit.Prompt);
    }

    [Theory]
    [InlineData(5, 5)]
    [InlineData(0, 0)]
    [InlineData(-1, 0)]
    [InlineData(-2, -2)]
    public void Read_TopK_IsTheJobsTopK_VllmsMinusOneKeepingEveryToken(int sent, int read)
    {
        // It was ignored: a client moving from vLLM got sampling over every token without a word. -2 is left for the
        // validator's refusal naming top_k.
        var submit = Read($$"""{"model":"m","messages":[{"role":"user","content":"x"}],"top_k":{{sent}}}""", OpenAiKind.Chat).Submit;

        Assert.Equal((true, read), (submit.HasTopK, submit.TopK));
    }

    [Fact]
    public void Read_WithoutTopK_LeavesItUnset() => Assert.False(Read("""{"model":"m","prompt":"x"}""").Submit.HasTopK);

    [Theory]
    [InlineData("model", "{\"model\":\"m\uFFFF\",\"prompt\":\"x\"}", false)]
    [InlineData("messages[0].role", "{\"model\":\"m\",\"messages\":[{\"role\":\"user\uFFFF\",\"content\":\"x\"}]}", true)]
    [InlineData("user", "{\"model\":\"m\",\"prompt\":\"x\",\"user\":\"\uFFFF\"}", false)]
    public void Read_AStringFieldThatIsNotUtf8_IsRefusedNamingIt(string param, string template, bool chat)
    {
        // Fields read by the serializer (model, role, user): a raw 0xFF in one was a 500 "internal error", the refusal's
        // own echo of the value failing to turn it into text. U+FFFF marks where the byte goes.
        var ex = Assert.Throws<RpcException>(() => ReadBytes(template, chat));

        Assert.Equal((StatusCode.InvalidArgument, param), (ex.StatusCode, SchedulerErrors.FieldOf(ex)));
        Assert.Equal($"{param}: {OpenAiJsonRefusals.NotUtf8}", ex.Status.Detail);
    }

    [Fact]
    public void Read_ANumberFieldSentAStringThatIsNotUtf8_IsRefusedNamingIt_EchoingWhatItCould()
    {
        var ex = Assert.Throws<RpcException>(() => ReadBytes("{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":\"1\uFFFF\"}", chat: false));

        Assert.Equal("max_tokens: must be a whole number, got the string \"1\uFFFD\"", ex.Status.Detail);
    }

    /// <summary>Reads <paramref name="template"/> as UTF-8 with each U+FFFF made a raw 0xFF byte.</summary>
    private OpenAiRequest ReadBytes(string template, bool chat)
    {
        var utf8 = System.Text.Encoding.UTF8.GetBytes(template.Replace('\uFFFF', '\u0001'));
        using var document = JsonDocument.Parse(utf8.Select(b => b == 0x01 ? (byte)0xFF : b).ToArray());
        return _reader.Read(document.RootElement, chat ? OpenAiKind.Chat : OpenAiKind.Completion);
    }

    [Fact]
    public void Read_TextThatIsNotUtf8_IsRefusedNamingIt()
    {
        // A raw 0xFF inside the string: the parser takes it, turning it into a string is what failed (a 500).
        byte[] json = [.. "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a"u8, 0xFF, .. "\"}]}"u8];
        using var document = JsonDocument.Parse(json);

        var ex = Assert.Throws<RpcException>(() => _reader.Read(document.RootElement, OpenAiKind.Chat));

        Assert.Equal((StatusCode.InvalidArgument, "messages[0].content"), (ex.StatusCode, SchedulerErrors.FieldOf(ex)));
    }

    [Theory]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"max_completion_tokens":0}""", "max_completion_tokens")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":5,"max_completion_tokens":0}""", "max_completion_tokens")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}""", "max_tokens")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}]}""", "max_tokens")]
    public void Read_Chat_MaxTokensField_IsTheFieldThatSetIt(string json, string field) =>
        Assert.Equal(field, Read(json, OpenAiKind.Chat).MaxTokensField);

    [Theory]
    [InlineData("""{"model":"m","prompt":"x","stream":1}""", "stream: must be a boolean (true or false), got the number 1")]
    [InlineData("""{"model":"m","prompt":"x","max_tokens":2.0}""", "max_tokens: must be a whole number, got 2.0")]
    [InlineData("""{"model":"m","prompt":"x","max_tokens":1e3}""", "max_tokens: must be a whole number, got 1e3")]
    [InlineData("""{"model":"m","prompt":"x","max_tokens":3000000000}""", "max_tokens: must be a whole number from -2147483648 to 2147483647, got 3000000000")]
    [InlineData("""{"model":"m","prompt":"x","max_tokens":"ten"}""", "max_tokens: must be a whole number, got the string \"ten\"")]
    [InlineData("""{"model":"m","prompt":"x","seed":1.5}""", "seed: must be a whole number, got 1.5")]
    [InlineData("""{"model":"m","prompt":"x","temperature":true}""", "temperature: must be a number, got true")]
    [InlineData("""{"model":7,"prompt":"x"}""", "model: must be a string, got the number 7")]
    [InlineData("""{"model":"m","prompt":"x","stream":true,"stream_options":{"include_usage":"yes"}}""", "stream_options.include_usage: must be a boolean (true or false), got the string \"yes\"")]
    [InlineData("""{"model":"m","prompt":"x","stream_options":[]}""", "stream_options: must be an object, got a list")]
    [InlineData("""{"model":"m","prompt":""}""", "prompt: must not be empty")]
    [InlineData("""{"model":"m","prompt":[]}""", "prompt: must not be empty")]
    [InlineData("""{"model":"m","prompt":[[]]}""", "prompt: must not be empty")]
    [InlineData("""{"model":"m","prompt":["a","b"]}""", "prompt: a batch of 2 prompts is not supported; send one prompt per request (a batch of one is that prompt)")]
    [InlineData("""{"model":"m","prompt":[[1,2],[3]]}""", "prompt: a batch of 2 prompts is not supported; send one prompt per request (a batch of one is that prompt)")]
    [InlineData("""{"model":"m","prompt":[[1,"a"]]}""", "prompt: must be a string, a list of token ids, or a batch of one of either")]
    [InlineData("""{"model":"m","prompt":[["a"]]}""", "prompt: must be a string, a list of token ids, or a batch of one of either")]
    [InlineData("""{"model":"m","prompt":"x","stream_options":{"include_usage":true}}""", "stream_options: is allowed only when stream is true")]
    [InlineData("""{"model":"m","prompt":"x","stream":false,"stream_options":{}}""", "stream_options: is allowed only when stream is true")]
    [InlineData("""{"model":"m","prompt":"x","stop":["a","b","c","d","e"]}""", "stop: at most 4 stop sequences, got 5")]
    public void Read_Completion_FieldOfTheWrongType_SaysWhatItMustBe(string json, string message)
    {
        // System.Text.Json's wording had leaked: "1 is not a number this field can hold (out of its range, or not whole)"
        // for a boolean (an outside probe).
        var ex = Assert.Throws<RpcException>(() => Read(json));

        Assert.Equal(message, ex.Status.Detail);
    }

    [Theory]
    [InlineData("""{"model":"m","messages":"hi"}""", "messages: must be a list, got the string \"hi\"")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"},7]}""", "messages[1]: must be an object, got the number 7")]
    [InlineData("""{"model":"m","messages":[{"role":false,"content":"x"}]}""", "messages[0].role: must be a string, got false")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"max_completion_tokens":[4]}""", "max_completion_tokens: must be a whole number, got a list")]
    public void Read_Chat_FieldOfTheWrongType_SaysWhatItMustBe(string json, string message)
    {
        var ex = Assert.Throws<RpcException>(() => Read(json, OpenAiKind.Chat));

        Assert.Equal(message, ex.Status.Detail);
    }

    [Theory]
    [InlineData("{\"model\":\"m\",\n \"prompt\": }", "body: is not valid JSON at line 2, byte 12: '}' is an invalid start of a value")]
    [InlineData("", "body: is not valid JSON at line 1, byte 1: The input does not contain any JSON tokens")]
    public async Task Read_MalformedJson_SaysWhere_InPlainPositions(string body, string message)
    {
        var http = new DefaultHttpContext();
        http.Request.Body = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(body));

        var ex = await Assert.ThrowsAsync<RpcException>(() => _reader.Read(http.Request, OpenAiKind.Completion, "acme"));

        Assert.StartsWith(message, ex.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("LineNumber", ex.Status.Detail, StringComparison.Ordinal);
    }
}
