using System.Net;

namespace LlavaMed.Notebooks;

/// <summary>A piece of HTML that notebooks display as such (e.g. an inline image).</summary>
[TypeFormatterSource(typeof(HtmlFormatterSource), PreferredMimeTypes = [HtmlFormatterSource.HtmlMimeType])]
public sealed class HtmlView(string html) : IHtmlView
{
    public string Html { get; } = html;

    /// <summary>A PNG embedded as a base64 data URI, with an optional caption under it.</summary>
    public static HtmlView Png(byte[] png, string? caption = null)
    {
        var image = $"<img src=\"data:image/png;base64,{Convert.ToBase64String(png)}\" alt=\"{WebUtility.HtmlEncode(caption ?? "image")}\" />";
        return new HtmlView(caption is null
            ? image
            : $"<figure style=\"margin:0\">{image}<figcaption>{WebUtility.HtmlEncode(caption)}</figcaption></figure>");
    }

    /// <summary>A simple table with a header row; cells are HTML-encoded text.</summary>
    public static HtmlView Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        static string Cells(IEnumerable<string> cells, string tag) =>
            string.Concat(cells.Select(c => $"<{tag}>{WebUtility.HtmlEncode(c)}</{tag}>"));
        var body = string.Concat(rows.Select(r => $"<tr>{Cells(r, "td")}</tr>"));
        return new HtmlView($"<table><thead><tr>{Cells(headers, "th")}</tr></thead><tbody>{body}</tbody></table>");
    }

    public override string ToString() => $"HtmlView ({Html.Length} characters)";
}
