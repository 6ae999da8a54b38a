using System.Globalization;
using System.Net;
using Microsoft.Data.Analysis;
using SkiaSharp;

namespace LlavaMed.Views;

/// <summary>A piece of HTML that notebooks display as such (e.g. an inline image).</summary>
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

    /// <summary>An image file (PNG, JPEG, ...) shrunk to at most <paramref name="maxSide"/> pixels on its longer side
    /// and embedded as PNG, so a grid of large scans stays small.</summary>
    public static HtmlView Thumbnail(string imagePath, int maxSide = 160, string? caption = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxSide);
        using var bitmap = SKBitmap.Decode(imagePath) ?? throw new InvalidDataException($"cannot decode image {imagePath}");
        var scale = Math.Min(1.0, (double)maxSide / Math.Max(bitmap.Width, bitmap.Height));
        using var resized = scale < 1
            ? bitmap.Resize(new SKImageInfo(Math.Max(1, (int)Math.Round(bitmap.Width * scale)), Math.Max(1, (int)Math.Round(bitmap.Height * scale))),
                            new SKSamplingOptions(SKCubicResampler.Mitchell))
            : null;
        using var image = SKImage.FromBitmap(resized ?? bitmap);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return Png(png.ToArray(), caption);
    }

    /// <summary>A simple table with a header row; cells are HTML-encoded text.</summary>
    public static HtmlView Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        static string Cells(IEnumerable<string> cells, string tag) =>
            string.Concat(cells.Select(c => $"<{tag}>{WebUtility.HtmlEncode(c)}</{tag}>"));
        var body = string.Concat(rows.Select(r => $"<tr>{Cells(r, "td")}</tr>"));
        return new HtmlView($"<table><thead><tr>{Cells(headers, "th")}</tr></thead><tbody>{body}</tbody></table>");
    }

    /// <summary>A data frame as a table: its first <paramref name="maxRows"/> rows (a note says how many more there
    /// are), numbers formatted invariantly with up to <paramref name="decimals"/> decimals. The notebook kernel
    /// adapter shows every DataFrame this way.</summary>
    public static HtmlView Table(DataFrame frame, int maxRows = 50, int decimals = 3)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxRows);
        string Cell(object? value) => value switch
        {
            null => "",
            double d => d.ToString($"0.{new string('#', decimals)}", CultureInfo.InvariantCulture),
            float f => f.ToString($"0.{new string('#', decimals)}", CultureInfo.InvariantCulture),
            IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };
        var shown = (int)Math.Min(frame.Rows.Count, maxRows);
        var table = Table(frame.Columns.Select(c => c.Name).ToList(),
                          Enumerable.Range(0, shown).Select(r => (IReadOnlyList<string>)frame.Columns.Select(c => Cell(c[r])).ToList()));
        return frame.Rows.Count > shown
            ? new HtmlView($"{table.Html}<p>{shown} of {frame.Rows.Count} rows shown</p>")
            : table;
    }

    /// <summary>Views (e.g. captioned images) laid out left to right in <paramref name="columns"/> columns.</summary>
    public static HtmlView Grid(IEnumerable<HtmlView> items, int columns = 4)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        var cells = string.Concat(items.Select(item => $"<div>{item.Html}</div>"));
        return new HtmlView($"<div style=\"display:grid;grid-template-columns:repeat({columns},minmax(0,1fr));gap:8px;align-items:start\">{cells}</div>");
    }

    public override string ToString() => $"HtmlView ({Html.Length} characters)";
}
