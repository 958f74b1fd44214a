using System.CommandLine;
using Google.Protobuf;

namespace Scheduler.Cli;

/// <summary>
/// <c>-o|--output</c> of every listing: <c>table</c> (the default), <c>wide</c> (more columns) or <c>json</c>. JSON is
/// the protobuf JSON mapping of the API's messages with every field present (<see cref="StableJson"/>: zeros and empty
/// strings written, an unset message or optional field as <c>null</c>): field names are the proto fields in
/// lowerCamelCase, 64-bit integers are strings, times are RFC 3339 — as stable as the protos, which only grow.
/// A listing prints an array, a command about one thing prints that object.
/// </summary>
internal static class Output
{
    public const string Table = "table";
    public const string Wide = "wide";
    public const string Json = "json";

    public static Option<string> Create()
    {
        var option = new Option<string>("--output", "-o")
        {
            Description = "Output format: table, wide (more columns) or json (protobuf JSON field names)",
            DefaultValueFactory = _ => Table,
        };
        option.AcceptOnlyFromAmong(Table, Wide, Json);
        return option;
    }

    /// <summary>One message as a JSON object.</summary>
    public static string ToJson(IMessage message) => StableJson.Format(message);

    /// <summary>Messages as a JSON array on one line (so that <c>top -o json</c> writes one frame a line).</summary>
    public static string ToJson(IEnumerable<IMessage> messages) => "[" + string.Join(",", messages.Select(ToJson)) + "]";
}
