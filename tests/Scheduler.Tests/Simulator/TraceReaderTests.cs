using Scheduler.Simulator.Workload;

namespace Scheduler.Tests.Simulator;

public sealed class TraceReaderTests : IDisposable
{
    private const string Header = "TIMESTAMP,ContextTokens,GeneratedTokens";
    private const string BurstGpt = "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type";

    private readonly string _folder = Directory.CreateTempSubdirectory("trace-reader-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Read_RowsOutOfOrder_ReplayInTimeOrderFromTheEarliest()
    {
        var rows = TraceReader.Parse([
            Header,
            "2023-11-16 18:00:02.0000000,300,3",
            "2023-11-16 18:00:00.5000000,100,1",
            "2023-11-16 18:00:01.0000000,200,2",
        ]).Rows;

        Assert.Equal([0.0, 500, 1_500], rows.Select(r => r.OffsetMs));
        Assert.Equal([100, 200, 300], rows.Select(r => r.PromptTokens));
    }

    [Fact]
    public void Read_RowsAtTheSameTime_KeepTheirFileOrder()
    {
        // List.Sort is unstable: forty rows of one time came back shuffled.
        var lines = Enumerable.Range(1, 40).Select(i => $"2023-11-16 18:00:00.0000000,{i},1");

        var rows = TraceReader.Parse([Header, "2023-11-16 18:00:01.0000000,999,1", .. lines]).Rows;

        Assert.Equal(Enumerable.Range(1, 40).Append(999), rows.Select(r => r.PromptTokens));
    }

    [Fact]
    public void Read_The2024WeekLongTracesTimestamps_WithOffsetsAndWholeSeconds_AreRead()
    {
        // The 2024 release writes microseconds and a UTC offset, and drops the fraction at a whole second; an offset is
        // a time zone, so +02:00 two hours later on the clock is the same instant.
        var rows = TraceReader.Parse([
            Header,
            "2024-05-10 00:00:00.009930+00:00,100,1",
            "2024-05-10 00:00:01+00:00,200,2",
            "2024-05-10 02:00:01.5+02:00,300,3",
            "2024-05-10 00:00:02.0000000,400,4",
        ]).Rows;

        Assert.Equal([(0.0, 100), (990.07, 200), (1_490.07, 300), (1_990.07, 400)], rows.Select(r => (Math.Round(r.OffsetMs, 2), r.PromptTokens)));
    }

    [Fact]
    public void Read_Iso8601Timestamps_WithAZAnOffsetOrNone_AreReadAsUtc()
    {
        // A trace converted or written by another tool: a T between date and time, and a Z or an offset (converted to
        // UTC; none is UTC, as in the 2023 form). They were refused.
        var rows = TraceReader.Parse([
            Header,
            "2023-11-16 18:15:46.6805900,100,1",
            "2023-11-16T18:15:46.6805900Z,200,2",
            "2023-11-16T18:15:47Z,300,3",
            "2023-11-16T19:15:48+01:00,400,4",
            "2023-11-16T13:15:48.5-05:00,500,5",
            "2023-11-16T18:15:49,600,6",
        ]).Rows;

        Assert.Equal(
            [(0.0, 100), (0, 200), (319.41, 300), (1_319.41, 400), (1_819.41, 500), (2_319.41, 600)],
            rows.Select(r => (Math.Round(r.OffsetMs, 2), r.PromptTokens)));
    }

    [Fact]
    public void Read_KeepsWhichFileAndLineItIsAt_InItsProgress()
    {
        var path = Write(Header, "2023-11-16 18:00:00.0000000,1,1", "2023-11-16 18:00:01.0000000,1,1");
        var progress = new TraceProgress();

        TraceReader.Read(path, progress);

        Assert.Equal((path, 3, true), (progress.Path, progress.Lines, progress.ReadWhole));

        var bad = Write(Header, "2023-11-16 18:00:00.0000000,1,1", "2023-11-16 18:00:01.0000000,0,1", "2023-11-16 18:00:02.0000000,1,1");
        Assert.Throws<InvalidDataException>(() => TraceReader.Read(bad, progress));

        Assert.Equal((bad, 3, false), (progress.Path, progress.Lines, progress.ReadWhole));
    }

    [Theory]
    [InlineData("2023-11-16 18:00:00.0000000,-5,10", "ContextTokens: must be at least 1, not -5")]
    [InlineData("2023-11-16 18:00:00.0000000,0,10", "ContextTokens: must be at least 1, not 0")]
    [InlineData("2023-11-16 18:00:00.0000000,200,-7", "GeneratedTokens: must be at least 1, not -7")]
    [InlineData("2023-11-16 18:00:00.0000000,200,0", "GeneratedTokens: must be at least 1, not 0")]
    [InlineData("2023-11-16 18:00:00.0000000,99999999999,10", "ContextTokens: '99999999999' is not a whole number")]
    [InlineData("2023-11-16 18:00:00.0000000,\"100\",10", "ContextTokens: '\"100\"' is not a whole number")]
    [InlineData("2023-11-16 18:00:00.0000000,200", "expected 3 comma-separated fields")]
    [InlineData("2023-11-16 18:00:00.0000000,200,10,4", "expected 3 comma-separated fields")]
    [InlineData("16/11/2023 18:00,200,10", "TIMESTAMP: '16/11/2023 18:00' is not a time")]
    [InlineData("2024-05-10T00:00:00+01,200,10", "TIMESTAMP: '2024-05-10T00:00:00+01' is not a time like 2023-11-16 18:15:46.6805900, 2024-05-10 00:00:00.009930+00:00 or 2023-11-16T18:15:46.6805900Z")]
    [InlineData("2024-05-10T24:00:00Z,200,10", "TIMESTAMP: '2024-05-10T24:00:00Z' is not a time like")]
    [InlineData("2024-05-10T00:00:00 Z,200,10", "TIMESTAMP: '2024-05-10T00:00:00 Z' is not a time like")]
    [InlineData("2030-01-01 00:00:00.0000000,200,10", "TIMESTAMP: 1.9")]
    public void Read_ABadRow_IsRefusedNamingTheFileLineAndColumn(string row, string named)
    {
        var path = Write(Header, "2023-11-16 18:00:00.0000000,1,1", row);

        var error = Assert.Throws<InvalidDataException>(() => TraceReader.Read(path));

        Assert.StartsWith($"{path} line 3: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("2023-11-16 18:15:40.0000000,100,10")]
    [InlineData("time,prompt,output")]
    [InlineData("TIMESTAMP,GeneratedTokens,ContextTokens")]
    public void Read_AHeaderOtherThanTheColumns_IsRefused(string first)
    {
        var path = Write(first, "2023-11-16 18:15:41.0000000,200,20");

        var error = Assert.Throws<InvalidDataException>(() => TraceReader.Read(path));

        Assert.Equal($"{path} line 1: header: expected '{Header}' (Azure LLM inference) or '{BurstGpt}' (BurstGPT), not '{first}'", error.Message);
    }

    [Fact]
    public void Read_AKvTraceGivenAsACsvTrace_IsRefusedInOneShortLine_PointingToPrefix()
    {
        // A Mooncake line with thousands of block ids was quoted whole as the header it is not: 17 KB of error.
        var line = $$"""{"timestamp": 0, "input_length": 1536000, "output_length": 10, "hash_ids": [{{string.Join(", ", Enumerable.Range(0, 3000))}}]}""";
        var path = Write(line);

        var error = Assert.Throws<InvalidDataException>(() => TraceReader.Read(path));

        Assert.Equal(
            $"{path} line 1: header: expected '{Header}' (Azure LLM inference) or '{BurstGpt}' (BurstGPT), " +
            $"not '{line[..40]}…{line[^40..]} ({line.Length:#,0} characters)' (a KV-cache JSONL trace is replayed by prefix --kv-trace)",
            error.Message);
    }

    [Fact]
    public void Read_AFieldOfMillionsOfDigits_IsQuotedByItsStartEndAndLength()
    {
        var path = Write(Header, $"2023-11-16 18:00:00.0000000,{new string('9', 5_000_000)},10");

        var error = Assert.Throws<InvalidDataException>(() => TraceReader.Read(path));

        Assert.Equal($"{path} line 2: ContextTokens: '{new string('9', 40)}…{new string('9', 40)} (5,000,000 characters)' is not a whole number of tokens (at most 2,147,483,647)", error.Message);
    }

    [Theory]
    [InlineData(new string[0], " line 1: header: the file is empty")]
    [InlineData(new[] { Header }, ": no requests in the trace")]
    [InlineData(new[] { Header, "", "  " }, ": no requests in the trace")]
    public void Read_NoRequests_IsRefused(string[] lines, string named)
    {
        var path = Write(lines);

        var error = Assert.Throws<InvalidDataException>(() => TraceReader.Read(path));

        Assert.Equal(path + named, error.Message[..(path.Length + named.Length)]);
    }

    [Fact]
    public void Read_BytesThatAreNotUtf8_AreRefusedNamingTheLine()
    {
        var path = Path.Combine(_folder, "latin1.csv");
        File.WriteAllBytes(path, [.. System.Text.Encoding.UTF8.GetBytes(Header + "\n2023-11-16 18:00:00.0000000,1,1\n"), 0xFF, 0xFE, .. "2023-11-16 18:00:01.0000000,1,1\n"u8]);

        var error = Assert.Throws<InvalidDataException>(() => TraceReader.Read(path));

        Assert.Equal($"{path} line 3: not UTF-8 text", error.Message);
    }

    [Fact]
    public void Read_AByteOrderMarkCrLfAndBlankLines_AreRead()
    {
        var path = Path.Combine(_folder, "windows.csv");
        File.WriteAllText(path, $"\uFEFF{Header}\r\n2023-11-16 18:00:00.0000000,100,10\r\n   \r\n2023-11-16 18:00:01.0000000,200,20\r\n", new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false));

        var rows = TraceReader.Read(path).Rows;

        Assert.Equal([(0.0, 100, 10), (1_000.0, 200, 20)], rows.Select(r => (r.OffsetMs, r.PromptTokens, r.OutputTokens)));
    }

    private string Write(params string[] lines)
    {
        var path = Path.Combine(_folder, $"{Guid.NewGuid():N}.csv");
        File.WriteAllLines(path, lines);
        return path;
    }
}
