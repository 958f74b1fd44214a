using System.CommandLine;
using Scheduler.Cli;

var root = new RootCommand("schedctl: submit inference jobs to the scheduler, stream their tokens, and inspect the cluster.");
GlobalOptions.AddTo(root);
JobCommands.AddTo(root);
TenantCommands.AddTo(root);
FleetCommands.AddTo(root);
KeyCommands.AddTo(root);
AuditCommands.AddTo(root);
TopCommand.AddTo(root);
JobInsightCommands.AddTo(root);
var parse = root.Parse(args);
return parse.Errors.Count > 0 ? await UsageErrors.ReportAsync(parse) : await parse.InvokeAsync();
