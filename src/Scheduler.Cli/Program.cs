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
// Ctrl+C and SIGTERM cancel the action's token, which ends it with its own word and exit code (130): System.CommandLine
// 2.0.0 handles neither signal unless given a timeout (its documented default is not applied), and without it SIGTERM
// ended schedctl at once with 143, mid-line, saying nothing. An action still running after the timeout is ended.
var invocation = new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(2) };
return parse.Errors.Count > 0 ? await UsageErrors.ReportAsync(parse) : await parse.InvokeAsync(invocation);
