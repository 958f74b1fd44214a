using Scheduler.Abstractions.Jobs;
using Scheduler.Grains.Jobs;

namespace Scheduler.Tests;

/// <summary>A journal's model read whole, for a test to look at.</summary>
internal static class JournalReads
{
    /// <summary>Every page of <see cref="IJobJournal.LoadPages"/>, one after the other.</summary>
    public static async Task<List<JobTicket>> Load(this IJobJournal journal, string model)
    {
        var tickets = new List<JobTicket>();
        await foreach (var page in journal.LoadPages(model))
        {
            tickets.AddRange(page);
        }

        return tickets;
    }
}
