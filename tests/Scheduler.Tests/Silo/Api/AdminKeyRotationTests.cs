using Grpc.Core;

namespace Scheduler.Tests.Silo.Api;

/// <summary>The admin key rotates through the key file (as a mounted Kubernetes Secret updates) while the silo runs.</summary>
public sealed class AdminKeyRotationTests(SecuredSilo silo) : IClassFixture<SecuredSilo>
{
    private static readonly TimeSpan Refresh = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task AdminKeyFile_Rewritten_NewKeyWorksAndOldStopsWithoutRestart()
    {
        using var old = silo.Admin("first-admin-key");
        using var next = silo.Admin("second-admin-key");
        await old.GetClusterSummaryAsync();
        Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(() => next.GetClusterSummaryAsync())).StatusCode);

        // Step 1: both keys, while admins move to the new one.
        await Replace(silo.AdminKeyFile, "first-admin-key\nsecond-admin-key\n");
        await Polling.Until(() => Works(next), "the new admin key is accepted", Refresh, TimeSpan.FromMilliseconds(200));
        await old.GetClusterSummaryAsync();

        // Step 2: only the new key.
        await Replace(silo.AdminKeyFile, "second-admin-key\n");
        await Polling.Until(async () => !await Works(old), "the old admin key is refused", Refresh, TimeSpan.FromMilliseconds(200));
        await next.GetClusterSummaryAsync();

        // The key from configuration was accepted all along.
        using var extra = silo.Admin(SecuredSilo.ExtraAdminKey);
        await extra.GetClusterSummaryAsync();
    }

    [Fact]
    public async Task AdminKeyFile_EmptiedOrRemoved_KeepsTheKeysReadBefore()
    {
        await Replace(silo.AdminKeyFile, "first-admin-key\n");
        using var admin = silo.Admin("first-admin-key");
        await Polling.Until(() => Works(admin), "the key is accepted", Refresh, TimeSpan.FromMilliseconds(200));

        await Replace(silo.AdminKeyFile, "# nothing yet\n");
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        await admin.GetClusterSummaryAsync();

        File.Delete(silo.AdminKeyFile);
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        await admin.GetClusterSummaryAsync();
        await Replace(silo.AdminKeyFile, "first-admin-key\n");
    }

    // As a Secret volume does it: a new file moved into place, never a half-written one.
    private static async Task Replace(string path, string text)
    {
        var temporary = path + ".new";
        await File.WriteAllTextAsync(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }

    private static async Task<bool> Works(Scheduler.Client.SchedulerAdminClient admin)
    {
        try
        {
            await admin.GetClusterSummaryAsync();
            return true;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated)
        {
            return false;
        }
    }
}
