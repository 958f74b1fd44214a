using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Scheduler.Simulator.Fleet;

/// <summary>A modelled fleet, as a file lists it (sim/fleets/*.json): the model's context limit and accelerators by
/// product, count, pricing mode and, optionally, their own prices and limits.</summary>
/// <param name="Name">Short name used in reports.</param>
/// <param name="Description">Why this fleet; reports quote it.</param>
/// <param name="Nodes">Groups of identical accelerators; each accelerator hosts one replica of the model.</param>
/// <param name="MaxContextTokens">The model's context: prompt plus output tokens one request may have. The live API
/// refuses a longer request (<c>Scheduler:Models:*:MaxContextTokens</c>, 8,192 unless configured); so does the
/// simulator, and it reports each refusal.</param>
internal sealed record FleetSpec(string Name, string? Description, IReadOnlyList<NodeSpec> Nodes, int MaxContextTokens = FleetSpec.DefaultMaxContextTokens)
{
    /// <summary>The live model catalog's default context (ModelOptions.MaxContextTokens).</summary>
    public const int DefaultMaxContextTokens = 8192;

    // A property the simulator does not know is refused, not ignored: a misspelt price would otherwise silently
    // leave the compiled-in one in force.
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web)
    {
        ReadCommentHandling = JsonCommentHandling.Skip,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
    };

    /// <summary>Reads and checks a fleet file, given by <paramref name="option"/>; throws
    /// <see cref="InvalidDataException"/> naming the file (or the option, when it gives none) and the field.</summary>
    public static FleetSpec Load(string path, string option)
    {
        var text = File.ReadAllText(InputFile.Check(path, option));
        if (string.IsNullOrWhiteSpace(text))
        {
            // Said as the trace readers say it, not as the JSON reader's "does not contain any JSON tokens … isFinalBlock".
            throw new InvalidDataException($"{path}: the file is empty; expected a fleet: a JSON object with name and nodes (see sim/fleets)");
        }

        FleetSpec? fleet;
        try
        {
            fleet = JsonSerializer.Deserialize<FleetSpec>(text, s_json);
        }
        catch (JsonException e)
        {
            // The serializer's message names our types, not the value; a syntax error's says where it is, and a
            // missing or repeated property's names the property but not where it is: add the JSON path.
            var where = e.Path is { } at && !e.Message.Contains("Path:", StringComparison.Ordinal) ? $" Path: {at}." : "";
            throw new InvalidDataException($"{path}: {JsonInputError.Explain(text, typeof(FleetSpec), s_json) ?? Quoted.Text(e.Message, 400) + where}", e);
        }

        if (fleet is null)
        {
            throw new InvalidDataException($"{path}: empty fleet file");
        }

        fleet.Validate(path);
        return fleet;
    }

    /// <summary>The same fleet with other counts (fleet planning tries many).</summary>
    public FleetSpec WithCounts(IReadOnlyList<int> counts) =>
        this with { Nodes = Nodes.Select((n, i) => n with { Count = counts[i] }).Where(n => n.Count > 0).ToList() };

    /// <summary>One line per group, e.g. "2×H100 + 1×LPU (metered, 16 concurrent, 1,000 req/min)".</summary>
    public string Summary() => string.Join(" + ", Nodes.Select(n => n.Summary()));

    /// <summary>How reports introduce the fleet: its groups, then its description when the file gives one (a file
    /// without one printed "Fleet `x`: ." in the prefix table).</summary>
    public string Heading() => string.IsNullOrWhiteSpace(Description) ? Summary() : $"{Summary()} — {Description}";

    private void Validate(string path)
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new InvalidDataException($"{path}: name: a fleet needs a name (reports use it)");
        }

        if (Nodes is null || Nodes.Count == 0)
        {
            throw new InvalidDataException($"{path}: nodes: a fleet needs at least one node group");
        }

        if (MaxContextTokens < 1)
        {
            throw new InvalidDataException($"{path}: maxContextTokens must be at least 1, not {MaxContextTokens}");
        }

        for (var i = 0; i < Nodes.Count; i++)
        {
            if (Nodes[i] is null)
            {
                throw new InvalidDataException($"{path}: nodes[{i}]: null, not a node group");
            }

            var error = Nodes[i].Error();
            if (error is not null)
            {
                throw new InvalidDataException($"{path}: nodes[{i}] ({Quoted.Text(Nodes[i].Product)}): {error}");
            }
        }

        if (Nodes.Sum(n => (long)n.Count) > NodeSpec.MaxCount)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"{path}: nodes: the groups count {Nodes.Sum(n => (long)n.Count):#,0} accelerators together, more than the {NodeSpec.MaxCount:#,0} the simulator models"));
        }
    }
}
