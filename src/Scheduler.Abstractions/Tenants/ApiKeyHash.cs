using System.Security.Cryptography;
using System.Text;

namespace Scheduler.Abstractions.Tenants;

/// <summary>API keys are only ever stored and looked up by their SHA-256.</summary>
public static class ApiKeyHash
{
    public static string Of(string apiKey) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(apiKey)));
}
