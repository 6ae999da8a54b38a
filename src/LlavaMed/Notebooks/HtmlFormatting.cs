namespace LlavaMed.Notebooks;

/// <summary>Something a notebook shows as HTML.</summary>
public interface IHtmlView
{
    /// <summary>A self-contained HTML fragment (no external resources).</summary>
    string Html { get; }
}

/// <summary>Matched by name by .NET Interactive's formatter (its "convention-based formatter sources"), so a type
/// marked with it is shown as HTML in dotnet-repl and VS Code Polyglot notebooks without this library referencing
/// any Microsoft.DotNet.Interactive assembly, whose version is the kernel's own.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
internal sealed class TypeFormatterSourceAttribute(Type formatterSourceType) : Attribute
{
    public Type FormatterSourceType { get; } = formatterSourceType;

    public string[]? PreferredMimeTypes { get; set; }
}

/// <summary>The formatter source the kernel instantiates for <see cref="IHtmlView"/> types; the member names and
/// signatures are the convention it looks up by reflection.</summary>
internal sealed class HtmlFormatterSource
{
    public const string HtmlMimeType = "text/html";

    public IEnumerable<object> CreateTypeFormatters() => [new HtmlFormatter()];

    private sealed class HtmlFormatter
    {
        public string MimeType => HtmlMimeType;

        public bool Format(object instance, TextWriter writer)
        {
            if (instance is not IHtmlView view) return false;
            writer.Write(view.Html);
            return true;
        }
    }
}
