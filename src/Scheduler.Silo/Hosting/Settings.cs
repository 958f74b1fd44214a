using Microsoft.Extensions.Options;
using Scheduler.Protos.Settings;

namespace Scheduler.Silo.Hosting;

/// <summary>A section of settings the silo reads, and the type it binds to; <see cref="Settings"/> registers one for
/// each section it binds, so <see cref="KnownSettings"/> knows every key the silo reads.</summary>
public sealed record SettingsSection(string Path, Type Type);

/// <summary>
/// Binds settings so that a value the configuration binder cannot convert (<c>Scheduler:HttpPort=abc</c>) is a
/// <see cref="ConfigurationRefusedException"/> naming its key, not an unhandled exception: at build time for the
/// settings the silo reads while it is built, at start-up (before the host starts) for those bound as options.
/// </summary>
public static class Settings
{
    /// <summary>Reads <paramref name="section"/> into a new <typeparamref name="T"/> (its defaults where unset).</summary>
    /// <exception cref="ConfigurationRefusedException">A value does not convert to its property's type.</exception>
    public static T Read<T>(IConfiguration section) where T : new()
    {
        var settings = new T();
        BindInto(section, settings);
        return settings;
    }

    /// <summary>Registers <typeparamref name="T"/> as options bound from <paramref name="section"/> and checked when the
    /// silo starts (its validators, and the binding itself).</summary>
    public static OptionsBuilder<T> AddSettings<T>(this IServiceCollection services, IConfigurationSection section) where T : class =>
        services.DeclareSettings<T>(section).AddOptions<T>().Configure(settings => BindInto(section, settings)).ValidateOnStart();

    /// <summary>Declares that the silo reads <paramref name="section"/> as a <typeparamref name="T"/> (one it reads while
    /// it is built, with <see cref="Read{T}"/>), so its keys are not reported as unknown (<see cref="KnownSettings"/>).</summary>
    public static IServiceCollection DeclareSettings<T>(this IServiceCollection services, IConfigurationSection section) =>
        services.AddSingleton(new SettingsSection(section.Path, typeof(T)));

    private static void BindInto(IConfiguration section, object settings)
    {
        try
        {
            section.Bind(settings);
        }
        // The binder's only failure: "Failed to convert configuration value 'abc' at 'Scheduler:HttpPort' to type
        // 'System.Int32'." names the key and the type, which is what the operator needs.
        catch (InvalidOperationException ex)
        {
            throw new ConfigurationRefusedException(ex.Message, ex);
        }
    }
}
