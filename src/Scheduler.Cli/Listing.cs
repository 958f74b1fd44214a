using Google.Protobuf;

namespace Scheduler.Cli;

/// <summary>How one kind of admin record is listed: its columns, some shown only with <c>-o wide</c>.</summary>
internal sealed class Listing<T>(params Column<T>[] columns) where T : IMessage
{
    /// <summary>Writes <paramref name="items"/> to stdout in the <paramref name="output"/> format.</summary>
    public void Print(IReadOnlyList<T> items, string output)
    {
        if (output == Output.Json)
        {
            Console.WriteLine(Output.ToJson(items.Cast<IMessage>()));
            return;
        }

        Column<T>.Tabulate(columns, items, output).Print();
    }
}

/// <summary>A column of a <see cref="Listing{T}"/>, or of another table printed as listings are.</summary>
internal sealed record Column<T>(string Header, Func<T, string> Cell, bool WideOnly = false)
{
    /// <summary>The table of <paramref name="items"/> in <paramref name="columns"/>, the wide-only ones with
    /// <c>-o wide</c> (<paramref name="output"/>) alone.</summary>
    public static Table Tabulate(IReadOnlyList<Column<T>> columns, IEnumerable<T> items, string output)
    {
        var shown = columns.Where(c => !c.WideOnly || output == Output.Wide).ToArray();
        var table = new Table([.. shown.Select(c => c.Header)]);
        foreach (var item in items)
        {
            table.Add([.. shown.Select(c => c.Cell(item))]);
        }

        return table;
    }
}
