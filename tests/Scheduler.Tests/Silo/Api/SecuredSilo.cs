using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Scheduler.Client;
using Scheduler.Silo.Hosting;
using Scheduler.Tests.EndToEnd;

namespace Scheduler.Tests.Silo.Api;

/// <summary>A real silo on loopback ports, without worker nodes, whose admin keys come from a key file it re-reads
/// every second (plus <see cref="ExtraAdminKey"/> from configuration), with one tenant and a key cache of
/// <see cref="KeyCacheSeconds"/>.</summary>
public sealed class SecuredSilo : IAsyncLifetime
{
    public const string Tenant = "acme";
    public const string ConfiguredKey = "acme-configured-key";
    public const string ExtraAdminKey = "extra-admin-key-from-config";
    public const string NodeToken = "secured-node-token";
    public const int KeyCacheSeconds = 1;
    public const string OtherTenantKey = "globex-configured-key";

    /// <summary>Settings that add a second tenant, "globex", whose key is <see cref="OtherTenantKey"/>.</summary>
    internal static readonly string[] OtherTenant = ["--Scheduler:Tenants:1:Id=globex", $"--Scheduler:Tenants:1:ApiKey={OtherTenantKey}"];

    private readonly string _folder = Directory.CreateTempSubdirectory("secured-silo-").FullName;
    private readonly IReadOnlyList<string> _settings;
    private WebApplication? _silo;

    // The tests of keys fail authentication on purpose, all from 127.0.0.1: the guard against guessing is tested apart.
    public SecuredSilo() : this(["--Scheduler:AuthFailureLimit=0"])
    {
    }

    /// <param name="settings">More "--Scheduler:…=…" settings.</param>
    internal SecuredSilo(IReadOnlyList<string> settings) => _settings = settings;

    /// <summary>The file of admin keys the silo re-reads.</summary>
    public string AdminKeyFile => Path.Combine(_folder, "admin-keys");

    public string Address { get; private set; } = "";

    public string OpenAiAddress { get; private set; } = "";

    public GrpcChannel Channel { get; private set; } = null!;

    /// <summary>The silo's services, for a test of one of its parts in place.</summary>
    internal IServiceProvider Services => _silo!.Services;

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(AdminKeyFile, "# admin keys, one a line\nfirst-admin-key\n");
        string[] args =
        [
            "--Scheduler:GrpcPort=0", "--Scheduler:HttpPort=0", "--Scheduler:OpenAiPort=0",
            $"--Scheduler:SiloPort={FreePort.Next()}", $"--Scheduler:GatewayPort={FreePort.Next()}",
            $"--Scheduler:AdminKeyFile={AdminKeyFile}", "--Scheduler:AdminKeyFileRefreshSeconds=1",
            $"--Scheduler:AdminApiKeys:0={ExtraAdminKey}", $"--Scheduler:NodeToken={NodeToken}",
            $"--Scheduler:ApiKeyCacheSeconds={KeyCacheSeconds}",
            "--Scheduler:Models:0:Name=llama-3.1-8b",
            $"--Scheduler:Tenants:0:Id={Tenant}", $"--Scheduler:Tenants:0:ApiKey={ConfiguredKey}",
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Scheduler=Error",
            .. _settings,
        ];
        _silo = SchedulerHost.Build(args);
        await _silo.StartAsync();
        Address = _silo.Services.GetRequiredService<ListeningAddresses>().Grpc;
        OpenAiAddress = _silo.Services.GetRequiredService<ListeningAddresses>().OpenAi;
        Channel = GrpcChannel.ForAddress(Address);
    }

    public SchedulerAdminClient Admin(string key = "first-admin-key") => new(Channel, key);

    public SchedulerClient Client(string key) => new(Channel, key);

    /// <summary>A service of the silo.</summary>
    public T Service<T>()
        where T : notnull => Services.GetRequiredService<T>();

    /// <summary>The silo's /metrics, as text.</summary>
    public async Task<string> MetricsText()
    {
        using var http = new HttpClient();
        return await http.GetStringAsync(Service<ListeningAddresses>().Http + "/metrics");
    }

    public async Task DisposeAsync()
    {
        Channel?.Dispose();
        if (_silo is not null)
        {
            await _silo.StopAsync();
            await _silo.DisposeAsync();
        }

        Directory.Delete(_folder, recursive: true);
    }
}
