using Scheduler.Simulator.Cli;

return SimulatorCommands.Invoke(args);
