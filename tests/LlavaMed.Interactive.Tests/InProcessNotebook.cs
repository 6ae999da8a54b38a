using System.Text.Json.Nodes;
using LlavaMed.Workbench;
using Microsoft.DotNet.Interactive.Documents;
using Microsoft.DotNet.Interactive.Documents.Jupyter;

namespace LlavaMed.Interactive.Tests;

/// <summary>Runs a notebook's cells in a C# kernel inside the test process, from the notebooks folder as a user's
/// kernel would, so that a test reads the results from the kernel's variables. Two differences from a user's run:
/// the library-building cell is skipped and the <c>#r</c>s of artifacts/notebook-lib/ name this test's build of
/// the same projects (the process has those loaded already). The dotnet-repl runs in LlavaMed.Tests stay the
/// end-to-end check of the published library.</summary>
public static class InProcessNotebook
{
    const string LibraryFolderReference = "#r \"../artifacts/notebook-lib/";
    const string BuildLibraryCell = "#load \"build-library.csx\"";

    public static string NotebooksFolder =>
        Path.Combine(WorkbenchPaths.FindRepositoryRoot(AppContext.BaseDirectory)
                     ?? throw new InvalidOperationException("tests must run inside the repository checkout"), "notebooks");

    /// <summary>Runs every code cell of <paramref name="notebookName"/> (with <paramref name="parameters"/> set in its
    /// parameters cell: C# expressions by name) and returns the kernel, for its variables.</summary>
    public static async Task<KernelSession> RunAsync(string notebookName, IReadOnlyDictionary<string, string>? parameters = null)
    {
        var path = Path.Combine(NotebooksFolder, notebookName);
        var text = await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken);
        var document = Notebook.Parse(text, new KernelInfoCollection { new("csharp", "C#") });
        var parameterCell = ParameterCellSource(text);
        var session = new KernelSession();
        var workingDirectory = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(NotebooksFolder);
        try
        {
            foreach (var cell in document.Elements.Where(e => e.KernelName == "csharp"))
            {
                var code = cell.Contents;
                if (code.Trim() == BuildLibraryCell) continue;
                if (code == parameterCell && parameters is not null) code = NotebookParameters.Apply(code, parameters);
                await session.SubmitAsync(code.Replace(LibraryFolderReference, $"#r \"{AppContext.BaseDirectory}"));
            }
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
        finally
        {
            Directory.SetCurrentDirectory(workingDirectory);
        }
    }

    /// <summary>The source of the one code cell tagged <see cref="NotebookParameters.Tag"/>.</summary>
    public static string ParameterCellSource(string notebookJson)
    {
        var tagged = JsonNode.Parse(notebookJson)!["cells"]!.AsArray()
            .Where(cell => cell!["metadata"]?["tags"]?.AsArray().Any(tag => (string?)tag == NotebookParameters.Tag) == true)
            .ToList();
        Assert.True(tagged.Count == 1, $"{tagged.Count} cells tagged '{NotebookParameters.Tag}'");
        return tagged[0]!["source"] is JsonArray lines ? string.Concat(lines.Select(line => (string?)line)) : (string)tagged[0]!["source"]!;
    }
}
