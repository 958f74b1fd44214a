namespace Scheduler.Silo.Persistence;

/// <summary>Ends the process at once with an exit code (<see cref="ProcessHalt"/>); tests record the call instead.</summary>
internal interface IProcessHalt
{
    void Halt(int exitCode, string reason);
}
