namespace Scheduler.Policies.Profiles;

/// <summary>The family of an accelerator; it decides nothing by itself but is reported to operators.</summary>
public enum AcceleratorKind
{
    Gpu,
    Lpu,
}
