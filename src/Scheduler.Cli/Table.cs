using System.Globalization;

namespace Scheduler.Cli;

/// <summary>
/// A plain-text table: columns separated by two spaces, numeric columns right-aligned, the rest left-aligned.
/// </summary>
internal sealed class Table(params string[] headers)
{
    private const string Gap = "  ";
    private readonly List<string[]> _rows = [];

    /// <summary>Adds a row; it must have one cell per header.</summary>
    public void Add(params string[] cells)
    {
        if (cells.Length != headers.Length)
        {
            throw new ArgumentException($"expected {headers.Length} cells, got {cells.Length}", nameof(cells));
        }

        _rows.Add(cells);
    }

    /// <summary>Writes the header line and the rows to stdout.</summary>
    public void Print()
    {
        var widths = new int[headers.Length];
        var numeric = new bool[headers.Length];
        for (var column = 0; column < headers.Length; column++)
        {
            var cells = _rows.Select(row => row[column]).ToList();
            widths[column] = cells.Append(headers[column]).Max(cell => cell.Length);
            numeric[column] = cells.Count > 0 && cells.All(IsNumeric);
        }

        Console.WriteLine(Line(headers, widths, numeric));
        foreach (var row in _rows)
        {
            Console.WriteLine(Line(row, widths, numeric));
        }
    }

    /// <summary>Writes name/value pairs, one per line, values aligned.</summary>
    public static void PrintPairs(IEnumerable<(string Name, string Value)> pairs)
    {
        var list = pairs.ToList();
        var width = list.Max(pair => pair.Name.Length) + 1;
        foreach (var (name, value) in list)
        {
            Console.WriteLine($"{(name + ":").PadRight(width)}{Gap}{value}");
        }
    }

    private static string Line(string[] cells, int[] widths, bool[] numeric)
    {
        var padded = cells.Select((cell, column) => numeric[column]
            ? cell.PadLeft(widths[column])
            : cell.PadRight(widths[column]));
        return string.Join(Gap, padded).TrimEnd();
    }

    // Empty cells, "-", "$1.5", "40%" and "3/8" count as numbers.
    private static bool IsNumeric(string cell) =>
        cell.Length == 0 || cell == "-" || cell.Trim('$', '%').Split('/').All(part =>
            double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out _));
}
