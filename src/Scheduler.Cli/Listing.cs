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

        var shown = columns.Where(c => !c.WideOnly || output == Output.Wide).ToArray();
        var table = new Table([.. shown.Select(c => c.Header)]);
        foreach (var item in items)
        {
            table.Add([.. shown.Select(c => c.Cell(item))]);
        }

        table.Print();
    }
}

/// <summary>A column of a <see cref="Listing{T}"/>.</summary>
internal sealed record Column<T>(string Header, Func<T, string> Cell, bool WideOnly = false);
