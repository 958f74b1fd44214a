using Scheduler.Simulator.Cli;

return SimulatorCommands.Create().Parse(args).Invoke();
