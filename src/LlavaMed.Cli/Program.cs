using LlavaMed.Cli;
using LlavaMed.Workbench;

try
{
    ExternalLibTorch.LoadIfExternal(); // before anything touches TorchSharp (external backend builds only)
}
catch (Exception e) when (e is InvalidOperationException or DllNotFoundException or BadImageFormatException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
return CliApp.Build().Parse(args).Invoke();
