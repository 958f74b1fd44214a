using System.Text.Json;
using System.Text.Json.Serialization;

namespace Scheduler.Simulator.Workload;

/// <summary>
/// A KV-cache trace's <c>timestamp</c>: a number of milliseconds (Mooncake's), or an ISO 8601 time as a string
/// (<see cref="IsoTimestamp"/>), read as milliseconds since the Unix epoch — so a trace of times replays as one of
/// epoch milliseconds does, timed from its earliest request. Written back as a number.
/// </summary>
internal sealed class KvTimestampConverter : JsonConverter<double>
{
    private static readonly string[] s_formats = [IsoTimestamp.Format];

    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            return reader.GetDouble();
        }

        var text = reader.GetString()!;
        return IsoTimestamp.TryParse(text, s_formats, out var at)
            ? (at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / (double)TimeSpan.TicksPerMillisecond
            : throw new Refused($"timestamp: '{Quoted.Text(text)}' is neither a number of milliseconds nor a time like {IsoTimestamp.Example}.");
    }

    /// <summary>A timestamp this converter could not read, in its own words (the reader keeps them rather than
    /// explaining the line again: a string is a timestamp's kind, so only the converter knows what is wrong with it).</summary>
    public sealed class Refused(string message) : JsonException(message);

    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
}
