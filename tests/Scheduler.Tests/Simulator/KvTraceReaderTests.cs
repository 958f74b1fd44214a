using Scheduler.Simulator.Workload;

namespace Scheduler.Tests.Simulator;

public sealed class KvTraceReaderTests
{
    [Fact]
    public void Parse_ReadsMooncakeLines_SortedByTimestamp()
    {
        var rows = KvTraceReader.Parse([
            """{"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 2353, 2354]}""",
            "",
            """{"timestamp": 0, "input_length": 1024, "output_length": 8, "hash_ids": [1, 2], "session_id": "s"}""",
        ]).Rows;

        Assert.Equal([0.0, 27_482.0], rows.Select(r => r.TimestampMs));
        Assert.Equal(14, rows[1].HashIds.Length);
        Assert.Equal("s", rows[0].SessionId);

        var workload = PrefixWorkloads.ToWorkload("t", rows, rateFactor: 2);
        Assert.Equal(13_741, workload.Requests[1].ArrivalMs);

        // 6,955 tokens are 13 whole blocks and a partial one: the 14th id names a block no cache keeps.
        Assert.Equal(13, workload.Requests[1].Blocks!.Count);
        Assert.Equal(2, workload.Requests[0].Blocks!.Count);
    }

    [Fact]
    public void Parse_RowsWhoseHashIdsStopShortOfTheirWholeBlocks_AreReplayed_AndCountedInTheAccount()
    {
        // 1,100 tokens are two whole 512-token blocks and a partial one: two ids or three cover it, one does not.
        var read = KvTraceReader.Parse([
            """{"timestamp": 0, "input_length": 1100, "output_length": 1, "hash_ids": [1, 2]}""",
            """{"timestamp": 1, "input_length": 1100, "output_length": 1, "hash_ids": [1, 2, 3]}""",
            """{"timestamp": 2, "input_length": 1100, "output_length": 1, "hash_ids": [1]}""",
            """{"timestamp": 3, "input_length": 511, "output_length": 1, "hash_ids": []}""",
        ]);

        Assert.Equal(4, read.Rows.Count);
        Assert.EndsWith("; 1 rows with fewer hash_ids than their prompt's whole 512-token blocks (the blocks past the last id never count as cached)", read.Account.Line(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnixEpochMilliseconds_AreTimedFromTheEarliestRequest()
    {
        var rows = KvTraceReader.Parse([
            """{"timestamp": 1733356800500, "input_length": 10, "output_length": 1, "hash_ids": []}""",
            """{"timestamp": 1733356800000, "input_length": 20, "output_length": 1, "hash_ids": []}""",
        ]).Rows;

        Assert.Equal([(0.0, 20), (500.0, 10)], rows.Select(r => (r.TimestampMs, r.InputLength)));
    }

    [Fact]
    public void Parse_Iso8601Timestamps_AreReadAsEpochMilliseconds_AndTimedFromTheEarliest()
    {
        // A time as a string (Z, an offset converted to UTC, or none: UTC) was refused as "could not be converted to
        // KvTraceRow"; it is the epoch milliseconds a number beside it is.
        var rows = KvTraceReader.Parse([
            """{"timestamp": "2023-11-16T18:15:46Z", "input_length": 10, "output_length": 1, "hash_ids": []}""",
            """{"timestamp": "2023-11-16T19:15:47.5+01:00", "input_length": 20, "output_length": 1, "hash_ids": []}""",
            """{"timestamp": 1700158548000, "input_length": 30, "output_length": 1, "hash_ids": []}""",
            """{"timestamp": "2023-11-16T18:15:48.25", "input_length": 40, "output_length": 1, "hash_ids": []}""",
        ]).Rows;

        Assert.Equal([(0.0, 10), (1_500.0, 20), (2_000.0, 30), (2_250.0, 40)], rows.Select(r => (r.TimestampMs, r.InputLength)));
    }

    [Theory]
    [InlineData("""{"timestamp": 0, "input_length": 0, "output_length": 1, "hash_ids": []}""", "input_length")]
    [InlineData("""{"timestamp": -1, "input_length": 10, "output_length": 1, "hash_ids": []}""", "timestamp")]
    [InlineData("""{"timestamp": 0, "input_length": 10, "output_length": -1, "hash_ids": []}""", "output_length")]
    [InlineData("""{"timestamp": 0, "input_length": 10, "output_length": 0, "hash_ids": []}""", "output_length: must be at least 1, not 0")]
    [InlineData("""{"input_length": 10, "output_length": 1, "hash_ids": []}""", "'timestamp'")]
    [InlineData("""{"timestamp": 0, "input_length": 10, "hash_ids": []}""", "'output_length'")]
    [InlineData("""{"timestamp": 0, "output_length": 1, "hash_ids": []}""", "'input_length'")]
    [InlineData("""{"Timestamp": 0, "timestamp": 0, "input_length": 10, "output_length": 1, "hash_ids": []}""", "'Timestamp'")]
    [InlineData("""{"timestamp": 0, "timestamp": 5, "input_length": 10, "output_length": 1, "hash_ids": []}""", "line 2: timestamp: given twice")]
    [InlineData("""{"timestamp": 1e300, "input_length": 10, "output_length": 1, "hash_ids": []}""", "timestamp: 1E+300 ms")]
    [InlineData("""{"timestamp": 0, "input_length": 10, "output_length": 1}""", "hash_ids")]
    [InlineData("""{"timestamp": 0, "input_length": 600, "output_length": 1, "hash_ids": [1, 2, 3]}""", "hash_ids")]
    [InlineData("""{"timestamp": "soon", "input_length": 600}""", "line 2: timestamp: 'soon' is neither a number of milliseconds nor a time like 2023-11-16T18:15:46.6805900Z.")]
    [InlineData("""{"timestamp": "2023-11-16 18:15:46", "input_length": 10, "output_length": 1, "hash_ids": []}""", "line 2: timestamp: '2023-11-16 18:15:46' is neither")]
    // In the file's words, not the serializer's: these read "The JSON value could not be converted to
    // Scheduler.Simulator.Workload.KvTraceRow. Path: $.input_length …", "The JSON property 'chat_id' could not be mapped
    // to any .NET member contained in type …" (a Qwen/Bailian trace's key), "… to System.Int64. Path: $.hash_ids[0]".
    [InlineData("""{"timestamp": 0, "input_length": 1000.0, "output_length": 1, "hash_ids": []}""", "line 2: input_length: 1000.0 is not a whole number (at most 2,147,483,647)")]
    [InlineData("""{"timestamp": 0, "input_length": 1e3, "output_length": 1, "hash_ids": []}""", "line 2: input_length: 1e3 is not a whole number")]
    [InlineData("""{"chat_id": 7, "timestamp": 0, "input_length": 10, "output_length": 1, "hash_ids": []}""", "line 2: unknown key 'chat_id'; the keys are timestamp, input_length, output_length, hash_ids, session_id")]
    [InlineData("""{"timestamp": 0, "input_length": 10, "output_length": 1, "hash_ids": ["a1"]}""", "line 2: hash_ids[0]: \"a1\" is not a whole number (a 64-bit integer)")]
    [InlineData("""{"timestamp": 0, "input_length": 10, "output_length": 1, "hash_ids": [], "session_id": 5}""", "line 2: session_id: 5 is not a string")]
    [InlineData("""{"timestamp": true, "input_length": 10, "output_length": 1, "hash_ids": []}""", "line 2: timestamp: true is neither a number nor a string")]
    [InlineData("""{"timestamp": 0, "input_length": 10, "output_length": 1}""", "line 2: missing key 'hash_ids'")]
    [InlineData("""[{"timestamp": 0}]""", "line 2: [{\"timestamp\": 0}] is not a JSON object")]
    public void Parse_BadLine_NamesTheLineAndField(string line, string named)
    {
        var error = Assert.Throws<InvalidDataException>(() => KvTraceReader.Parse(["""{"timestamp": 0, "input_length": 1, "output_length": 1, "hash_ids": []}""", line]));

        Assert.Contains(named, error.Message);
        Assert.Contains("line 2", error.Message);
        Assert.DoesNotContain("Scheduler.Simulator", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ACsvTraceGivenAsAKvTrace_SaysItIsOne()
    {
        var error = Assert.Throws<InvalidDataException>(() => KvTraceReader.Parse(["TIMESTAMP,ContextTokens,GeneratedTokens", "2023-11-16 18:00:00,10,1"], "conv.csv"));

        Assert.StartsWith("conv.csv line 1: 'T' is an invalid start of a value.", error.Message, StringComparison.Ordinal);
        Assert.EndsWith(" (a CSV trace: replay it with run --trace)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_AnUnknownKeyOfMillionsOfCharacters_IsQuotedShort()
    {
        var error = Assert.Throws<InvalidDataException>(() => KvTraceReader.Parse([$$"""{"{{new string('k', 2_000_000)}}": 1}"""], "big.jsonl"));

        Assert.StartsWith("big.jsonl line 1: unknown key 'kkk", error.Message, StringComparison.Ordinal);
        Assert.Contains("(2,000,000 characters)'; the keys are timestamp, input_length, output_length, hash_ids, session_id", error.Message, StringComparison.Ordinal);
        Assert.True(error.Message.Length < 500, error.Message.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Parse_RowsAtTheSameTime_KeepTheirFileOrder()
    {
        var lines = Enumerable.Range(1, 40).Select(i => $$"""{"timestamp": 5, "input_length": {{i}}, "output_length": 1, "hash_ids": []}""");

        var rows = KvTraceReader.Parse(["""{"timestamp": 9, "input_length": 999, "output_length": 1, "hash_ids": []}""", .. lines]).Rows;

        Assert.Equal(Enumerable.Range(1, 40).Append(999), rows.Select(r => r.InputLength));
    }

    [Fact]
    public void Read_NoRequests_IsRefusedNamingTheFile()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(path, ["", "  "]);

            var error = Assert.Throws<InvalidDataException>(() => KvTraceReader.Read(path));

            Assert.Equal($"{path}: no requests in the trace (skipped 2 blank lines)", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Write_ThenRead_RoundTrips_TimedFromTheFirstRequest()
    {
        var path = Path.GetTempFileName();
        try
        {
            var rows = PrefixWorkloads.Agent(new PrefixWorkloadSettings { Agents = 3 });
            KvTraceReader.Write(path, rows);

            var read = KvTraceReader.Read(path).Rows;

            var first = rows.Min(r => r.TimestampMs);
            Assert.Equal(rows.Select(r => (r.TimestampMs - first, r.InputLength, r.OutputLength, string.Join(",", r.HashIds), r.SessionId)),
                read.Select(r => (r.TimestampMs, r.InputLength, r.OutputLength, string.Join(",", r.HashIds), r.SessionId)));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
