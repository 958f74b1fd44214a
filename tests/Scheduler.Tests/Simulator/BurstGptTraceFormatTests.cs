using Scheduler.Simulator.Workload;

namespace Scheduler.Tests.Simulator;

public sealed class BurstGptTraceFormatTests
{
    private const string Header = "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type";

    [Fact]
    public void Parse_ABurstGptTrace_ReadsSecondsAndTokens_AndSkipsAndCountsTheFailedRows()
    {
        // BurstGPT_1.csv's first rows, as its README shows them, with a failed request (0 response tokens) between.
        var read = TraceReader.Parse([
            Header,
            "5,ChatGPT,472,18,490,Conversation log",
            "45,ChatGPT,1087,0,1087,Conversation log",
            "118.25,GPT-4,417,276,693,API log",
        ]);

        Assert.Equal([(0.0, 472, 18), (113_250.0, 417, 276)], read.Rows.Select(r => (r.OffsetMs, r.PromptTokens, r.OutputTokens)));
        Assert.Equal("BurstGPT", read.Account.Format);
        Assert.Equal(1, read.Account.Skipped["failed requests (Response tokens 0)"]);
    }

    [Theory]
    [InlineData("-5,ChatGPT,472,18,490,Conversation log", "Timestamp: '-5' is not a number of seconds from the trace's start, 0 or more")]
    [InlineData("2023-11-16 18:00:00,ChatGPT,472,18,490,Conversation log", "Timestamp: '2023-11-16 18:00:00' is not a number of seconds")]
    [InlineData("1e3,ChatGPT,472,18,490,Conversation log", "Timestamp: '1e3' is not a number of seconds")]
    [InlineData("99999999999999999,ChatGPT,472,18,490,Conversation log", "Timestamp: '99999999999999999' is not a number of seconds")]
    [InlineData("5,ChatGPT,0,18,18,Conversation log", "Request tokens: must be at least 1, not 0")]
    [InlineData("5,ChatGPT,472,-3,469,Conversation log", "Response tokens: must be at least 1, not -3")]
    [InlineData("5,ChatGPT,-1,0,-1,Conversation log", "Request tokens: must be at least 1, not -1")]
    [InlineData("5,ChatGPT,472,x,490,Conversation log", "Response tokens: 'x' is not a whole number of tokens")]
    [InlineData("5,ChatGPT,472,18,490", "row: expected 6 comma-separated fields")]
    public void Parse_ABadRow_IsRefusedNamingTheLineAndColumn(string row, string named)
    {
        var error = Assert.Throws<InvalidDataException>(() => TraceReader.Parse([Header, "0,ChatGPT,1,1,2,API log", row], "burst.csv"));

        Assert.StartsWith("burst.csv line 3: " + named, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_OnlyFailedRows_IsATraceWithNoRequests_SayingWhatWasSkipped()
    {
        var error = Assert.Throws<InvalidDataException>(() => TraceReader.Parse([Header, "5,ChatGPT,472,0,472,Conversation log"], "burst.csv"));

        Assert.Equal("burst.csv: no requests in the trace (skipped 1 failed requests (Response tokens 0))", error.Message);
    }
}
