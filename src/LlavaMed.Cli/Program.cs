using LlavaMed.Cli;

return CliApp.Build().Parse(args).Invoke();
