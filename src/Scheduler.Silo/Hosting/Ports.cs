namespace Scheduler.Silo.Hosting;

/// <summary>The check every port setting shares: Kestrel and Orleans would otherwise fail on an out-of-range port with
/// an "(Parameter 'port')" that names no setting.</summary>
internal static class Ports
{
    /// <summary>Refuses a port outside 1..65535, or 0 too unless <paramref name="allowAny"/> (0 = any free port).</summary>
    /// <exception cref="ConfigurationRefusedException">The port is out of range; the message names <paramref name="key"/>.</exception>
    public static void Require(string key, int port, bool allowAny)
    {
        var lowest = allowAny ? 0 : 1;
        if (port < lowest || port > 65535)
        {
            throw new ConfigurationRefusedException(
                $"{key} must be a port from {lowest} to 65535{(allowAny ? " (0 = any free port)" : "")}, not {port}.");
        }
    }
}
