using System.Text.RegularExpressions;

namespace LlavaMed.Interactive.Tests;

/// <summary>Sets a notebook's parameters the way papermill does for Python notebooks: each notebook has one code cell
/// tagged <c>parameters</c>, and a run replaces the value of a one-line declaration there (<c>var scale = "quick";</c>
/// becomes <c>var scale = "full";</c>), so everything computed from it further down the cell follows.</summary>
public static partial class NotebookParameters
{
    public const string Tag = "parameters";

    /// <summary>The names declared on one line of <paramref name="cell"/>, in order.</summary>
    public static IReadOnlyList<string> Names(string cell) =>
        Declaration().Matches(cell).Select(m => m.Groups["name"].Value).ToList();

    /// <summary><paramref name="cell"/> with each named declaration's value replaced by the C# expression given;
    /// a name the cell does not declare is an error that lists the ones it does.</summary>
    public static string Apply(string cell, IReadOnlyDictionary<string, string> values)
    {
        foreach (var (name, expression) in values)
        {
            var found = Declaration().Matches(cell).Where(m => m.Groups["name"].Value == name).ToList();
            if (found.Count != 1)
                throw new ArgumentException(
                    $"the parameters cell declares no '{name}' on one line (it declares: {string.Join(", ", Names(cell))})", nameof(values));
            var value = found[0].Groups["value"];
            cell = cell[..value.Index] + expression + cell[(value.Index + value.Length)..];
        }
        return cell;
    }

    // `var name = value;` or `Type name = value;` at the start of a line, an end-of-line comment allowed.
    [GeneratedRegex(@"^(?:var|[\w.<>\[\]?,]+)[ \t]+(?<name>\w+)[ \t]*=[ \t]*(?<value>[^;\r\n]+);[ \t]*(?://.*)?$", RegexOptions.Multiline)]
    private static partial Regex Declaration();
}
