// Removes outputs, execution counts and run timings from Jupyter/Polyglot notebooks so they are committed clean.
//   dotnet run environment/StripNotebooks.cs                 strips notebooks/*.ipynb
//   dotnet run environment/StripNotebooks.cs -- a.ipynb dir/  strips the given notebooks or folders
//   dotnet run environment/StripNotebooks.cs -- --check       only reports; exit code 1 if any notebook has outputs
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

var checkOnly = args.Contains("--check");
var targets = args.Where(a => a != "--check").DefaultIfEmpty("notebooks").ToList();
var notebooks = targets.SelectMany(target => Directory.Exists(target)
        ? Directory.EnumerateFiles(target, "*.ipynb")
        : [target])
    .Order(StringComparer.Ordinal)
    .ToList();

// The layout VS Code and Jupyter write: one-space indentation, non-ASCII text kept as is.
var writeOptions = new JsonSerializerOptions
{
    WriteIndented = true,
    IndentSize = 1,
    Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
};

var withOutputs = 0;
foreach (var path in notebooks)
{
    var notebook = JsonNode.Parse(File.ReadAllText(path))!;
    var changed = false;
    foreach (var cell in notebook["cells"]!.AsArray())
    {
        // Run timings that dotnet-repl (dotnet_repl_cellExecution*) and Jupyter (execution) put in cell metadata.
        if (cell!["metadata"] is JsonObject metadata)
        {
            foreach (var key in metadata.Select(p => p.Key)
                         .Where(k => k == "execution" || k.StartsWith("dotnet_repl_cellExecution", StringComparison.Ordinal))
                         .ToList())
            {
                metadata.Remove(key);
                changed = true;
            }
        }
        if ((string?)cell["cell_type"] != "code") continue;
        if (cell["outputs"] is JsonArray { Count: > 0 })
        {
            cell["outputs"] = new JsonArray();
            changed = true;
        }
        if (cell["execution_count"] is not null)
        {
            cell["execution_count"] = null;
            changed = true;
        }
    }
    if (!changed) continue;
    withOutputs++;
    if (checkOnly)
    {
        Console.WriteLine($"has outputs: {path}");
        continue;
    }
    File.WriteAllText(path, notebook.ToJsonString(writeOptions) + "\n");
    Console.WriteLine($"stripped: {path}");
}

return checkOnly && withOutputs > 0 ? 1 : 0;
