// Publishes src/LlavaMed.Interactive (the kernel adapter, with the LlavaMed library it references) into
// artifacts/notebook-lib/ (what the notebooks #r) when it is missing or older than the sources. Loaded by each
// notebook's first cell: `#load "build-library.csx"`. A kernel keeps the assemblies it has loaded, so when this kernel
// already holds a LlavaMed assembly other than the one on disk, the cell fails and says to restart the kernel.
using System.Diagnostics;
using System.IO;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Runtime.InteropServices;

static string FindRepositoryRoot()
{
    for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "LlavaMed.Workbench.sln"))) return dir.FullName;
    throw new InvalidOperationException($"no LlavaMed.Workbench.sln above {Directory.GetCurrentDirectory()}; "
                                        + "start the notebook from the repository's notebooks/ folder");
}

static DateTime NewestWrite(IEnumerable<string> files) =>
    files.Select(File.GetLastWriteTimeUtc).DefaultIfEmpty(DateTime.MinValue).Max();

// What the compiler and MSBuild read: a change to any of these makes the publish rewrite a DLL.
static bool IsBuildInput(string file) =>
    Path.GetExtension(file) is ".cs" or ".csproj" or ".props" or ".targets";

static IEnumerable<string> SourceFiles(string folder) =>
    Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Where(file =>
    {
        var relative = Path.GetRelativePath(folder, file).Replace('\\', '/');
        return IsBuildInput(file) && !relative.StartsWith("bin/") && !relative.StartsWith("obj/");
    });

var repositoryRoot = FindRepositoryRoot();
var notebookLibrary = Path.Combine(repositoryRoot, "artifacts", "notebook-lib");
var sources = SourceFiles(Path.Combine(repositoryRoot, "src", "LlavaMed"))
    .Concat(SourceFiles(Path.Combine(repositoryRoot, "src", "LlavaMed.Plotting")))
    .Concat(SourceFiles(Path.Combine(repositoryRoot, "src", "LlavaMed.Interactive")))
    .Concat(Directory.EnumerateFiles(repositoryRoot, "Directory.*").Where(IsBuildInput));
var libraryIsCurrent = File.Exists(Path.Combine(notebookLibrary, "LlavaMed.Interactive.dll"))
    && NewestWrite(Directory.EnumerateFiles(notebookLibrary, "*.dll", SearchOption.AllDirectories)) >= NewestWrite(sources);

if (libraryIsCurrent)
{
    Console.WriteLine($"LlavaMed library is up to date: {notebookLibrary}");
}
else
{
    Console.WriteLine($"Publishing LlavaMed to {notebookLibrary} ...");
    var publish = new ProcessStartInfo("dotnet")
    {
        WorkingDirectory = repositoryRoot,
        RedirectStandardOutput = true,
        RedirectStandardError = true,
    };
    foreach (var argument in new[] { "publish", "src/LlavaMed.Interactive/LlavaMed.Interactive.csproj", "-c", "Release",
                                     "-r", RuntimeInformation.RuntimeIdentifier, "--self-contained", "false",
                                     "-o", notebookLibrary, "-nologo" })
        publish.ArgumentList.Add(argument);
    using var process = Process.Start(publish)!;
    var errorTask = process.StandardError.ReadToEndAsync();
    var output = process.StandardOutput.ReadToEnd();
    process.WaitForExit();
    if (process.ExitCode != 0)
        throw new InvalidOperationException($"dotnet publish failed ({process.ExitCode}):\n{output}\n{errorTask.Result}");
    Console.WriteLine("Done.");
}

// The module version id changes with every compilation that changes the assembly.
static Guid ModuleVersionId(string path)
{
    using var reader = new PEReader(File.OpenRead(path));
    var metadata = reader.GetMetadataReader();
    return metadata.GetGuid(metadata.GetModuleDefinition().Mvid);
}

var staleAssemblies = AppDomain.CurrentDomain.GetAssemblies()
    .Where(assembly => assembly.GetName().Name is "LlavaMed" or "LlavaMed.Interactive")
    .Where(assembly => File.Exists(Path.Combine(notebookLibrary, assembly.GetName().Name + ".dll"))
                       && assembly.ManifestModule.ModuleVersionId != ModuleVersionId(Path.Combine(notebookLibrary, assembly.GetName().Name + ".dll")))
    .Select(assembly => assembly.GetName().Name)
    .ToList();
if (staleAssemblies.Count > 0)
    throw new InvalidOperationException(
        $"This kernel has another build of {string.Join(" and ", staleAssemblies)} loaded than the one now in {notebookLibrary} "
        + "(a kernel keeps the assemblies it has loaded). "
        + "Restart the kernel (Polyglot Notebooks: \"Restart\" in the notebook toolbar) and run the notebook again.");
