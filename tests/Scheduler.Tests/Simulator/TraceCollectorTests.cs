using Scheduler.Simulator.Workload;

namespace Scheduler.Tests.Simulator;

public sealed class TraceCollectorTests
{
    [Fact]
    public void Account_SaysRequestsSkippedLinesOrderAndSpan_WithTheEarliestAndLatestRowsAsWritten()
    {
        var read = TraceReader.Parse([
            "TIMESTAMP,ContextTokens,GeneratedTokens",
            "2024-05-10 00:00:02+00:00,300,3",
            "",
            "2024-05-10 00:00:00.5+00:00,100,1",
            "2024-05-10 02:00:01+02:00,200,2",
            "   ",
            "2024-05-12 00:00:00.5+00:00,400,4",
        ], "week.csv");

        Assert.Equal(
            "read week.csv (Azure LLM inference): 4 requests, skipped 2 blank lines, 2 rows out of time order (replayed in time order); " +
            "spans 2.00 days, from '2024-05-10 00:00:00.5+00:00' (line 4) to '2024-05-12 00:00:00.5+00:00' (line 7)",
            read.Account.Line());
    }

    [Fact]
    public void Account_OfAKvTraceInSecondsNotMilliseconds_ShowsTheSpanItWasReadAs()
    {
        // Unix seconds where the format has milliseconds: replayed a thousand times too fast, which the account shows.
        var read = KvTraceReader.Parse([
            """{"timestamp": 1717000000, "input_length": 10, "output_length": 1, "hash_ids": []}""",
            """{"timestamp": 1717000100, "input_length": 10, "output_length": 1, "hash_ids": []}""",
        ], "agent.jsonl");

        Assert.Equal(
            "read agent.jsonl (KV-cache JSONL): 2 requests, none skipped, in time order; spans 0.1 s, from '1717000000' (line 1) to '1717000100' (line 2)",
            read.Account.Line());
    }

    [Fact]
    public void Account_OfASortedTrace_HasNoRowOutOfOrder_AndTheRowsKeepTheirOffsets()
    {
        var read = TraceReader.Parse(["TIMESTAMP,ContextTokens,GeneratedTokens", "2023-11-16 18:00:00.0000001,1,1", "2023-11-16 18:00:00.0000003,2,1", "2023-11-16 18:00:00.0000003,3,1"]);

        Assert.Equal(0, read.Account.OutOfOrder);
        Assert.Equal([0.0, 0.0002, 0.0002], read.Rows.Select(r => r.OffsetMs));
    }
}
