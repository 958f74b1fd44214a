using System.CommandLine;
using Scheduler.Protos.V1;

namespace Scheduler.Cli;

/// <summary><c>schedctl keys list|create|revoke</c>: a tenant's API keys. A new key's secret is printed once.</summary>
internal static class KeyCommands
{
    public static readonly Listing<ApiKey> Keys = new(
        new("KEY ID", k => k.KeyId),
        new("PREFIX", k => Format.OrDash(k.Prefix)),
        new("CREATED", k => Format.Time(k.CreatedAt)),
        new("LAST USED", k => Format.Time(k.LastUsedAt)),
        new("TENANT", k => k.TenantId, WideOnly: true));

    public static void AddTo(RootCommand root) => root.Add(new Command("keys", "List, create or revoke a tenant's API keys")
    {
        List(), Create(), Revoke(),
    });

    private static Command List()
    {
        var tenant = IdArguments.Tenant();
        var prefix = new Option<string>("--prefix") { Description = "Only keys whose prefix starts with this, e.g. sk-sch-3fa4" }.Fills("prefix");
        return ListingCommands.Listed("list", "List a tenant's keys (never their secrets)", Keys,
            (admin, parse, cancellationToken) => admin.ListApiKeysAsync(parse.GetRequiredValue(tenant), parse.GetValue(prefix), cancellationToken: cancellationToken),
            tenant, prefix);
    }

    private static Command Create()
    {
        var tenant = IdArguments.Tenant();
        var output = Output.Create();
        var command = new Command("create", "Add a key to a tenant; its other keys keep working. The secret is shown only now") { tenant, output };
        Actions.SetAdminAction(command, async (admin, parse, cancellationToken) =>
        {
            var created = await admin.CreateApiKeyAsync(parse.GetRequiredValue(tenant), cancellationToken: cancellationToken);
            if (parse.GetRequiredValue(output) == Output.Json)
            {
                Console.WriteLine(Output.ToJson(created));
                return;
            }

            Keys.Print([created.Key], parse.GetRequiredValue(output));
            Console.WriteLine();
            Console.WriteLine($"secret: {created.Secret}");
            await Console.Error.WriteLineAsync("Store the secret now: it is not shown again.");
        });
        return command;
    }

    private static Command Revoke()
    {
        var tenant = IdArguments.Tenant();
        var keyId = new Argument<string>("key-id") { Description = "The key's id, as 'keys list' shows it" }.Fills("key_id");
        return ListingCommands.Single("revoke", "Revoke a key: it stops working within the silos' key cache time", Keys,
            (admin, parse, cancellationToken) => admin.RevokeApiKeyAsync(parse.GetRequiredValue(tenant), parse.GetRequiredValue(keyId), cancellationToken: cancellationToken),
            tenant, keyId);
    }
}
