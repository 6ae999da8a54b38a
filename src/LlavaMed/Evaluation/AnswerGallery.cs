using System.Net;
using System.Text;
using LlavaMed.Data;
using LlavaMed.Views;
using SkiaSharp;

namespace LlavaMed.Evaluation;

/// <summary>One answered question for the gallery; <see cref="Correct"/> is the strict judgement.</summary>
public sealed record GalleryItem(string Id, string? Image, string Question, string GroundTruth, string Prediction,
                                 string? AnswerType, bool Correct);

/// <summary>Right and wrong answers with their images, to see what a model gets wrong rather than only how often.</summary>
public static class AnswerGallery
{
    /// <summary>Every question with its answer and judgement, in the ground truth's order (answers paired as
    /// <see cref="VqaEvaluation.Pair"/> pairs them).</summary>
    public static IReadOnlyList<GalleryItem> Items(IReadOnlyList<LlavaSample> groundTruth, IReadOnlyList<AnswerRecord> predictions)
    {
        var pairs = VqaEvaluation.Pair(groundTruth, predictions);
        return pairs.Select((pair, i) => new GalleryItem(pair.Id, groundTruth[i].Image, groundTruth[i].Question, pair.GroundTruth,
                                                         pair.Prediction, pair.AnswerType, StrictMetrics.IsCorrect(pair))).ToList();
    }

    /// <summary>The first <paramref name="count"/> right and the first <paramref name="count"/> wrong answers.</summary>
    public static (IReadOnlyList<GalleryItem> Right, IReadOnlyList<GalleryItem> Wrong) Pick(IEnumerable<GalleryItem> items, int count)
    {
        var list = items.ToList();
        return (list.Where(i => i.Correct).Take(count).ToList(), list.Where(i => !i.Correct).Take(count).ToList());
    }

    /// <summary>A grid of cards: the image (as a PNG thumbnail at most <paramref name="thumbnailSize"/> pixels on its
    /// longer side, embedded), the question, the reference and the answer, marked right or wrong. An image that is
    /// missing or unreadable is named on its card instead.</summary>
    public static HtmlView Html(IEnumerable<GalleryItem> items, string imageRoot, int thumbnailSize = 160)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(thumbnailSize);
        var html = new StringBuilder("<div class=\"llavamed-gallery\" style=\"display:flex;flex-wrap:wrap;gap:12px\">");
        foreach (var item in items)
        {
            var border = item.Correct ? "#2ca02c" : "#d62728";
            html.Append($"<figure style=\"margin:0;width:{Math.Max(thumbnailSize, 160)}px;border:2px solid {border};padding:4px\">")
                .Append(ImageElement(item, imageRoot, thumbnailSize))
                .Append("<figcaption style=\"font-size:12px\">")
                .Append($"<div><b>{Encode(item.Question)}</b></div>")
                .Append($"<div>reference: {Encode(item.GroundTruth)}</div>")
                .Append($"<div>answer: {Encode(item.Prediction)}</div>")
                .Append($"<div style=\"color:{border}\">{(item.Correct ? "right" : "wrong")} ({Encode(item.AnswerType ?? "no type")}, id {Encode(item.Id)})</div>")
                .Append("</figcaption></figure>");
        }
        return new HtmlView(html.Append("</div>").ToString());
    }

    static string ImageElement(GalleryItem item, string imageRoot, int thumbnailSize)
    {
        if (item.Image is null) return "<div>(no image)</div>";
        var path = ImagePaths.TryResolve(imageRoot, item.Image, out var problem);
        if (path is null) return $"<div>{Encode(problem ?? "bad image path")}</div>";
        using var bitmap = File.Exists(path) ? SKBitmap.Decode(path) : null;
        if (bitmap is null) return $"<div>image not found or unreadable: {Encode(item.Image)}</div>";
        var scale = Math.Min(1.0, (double)thumbnailSize / Math.Max(bitmap.Width, bitmap.Height));
        var info = new SKImageInfo(Math.Max(1, (int)Math.Round(bitmap.Width * scale)), Math.Max(1, (int)Math.Round(bitmap.Height * scale)));
        using var thumbnail = bitmap.Resize(info, new SKSamplingOptions(SKCubicResampler.Mitchell));
        using var png = thumbnail.Encode(SKEncodedImageFormat.Png, 100);
        return $"<img src=\"data:image/png;base64,{Convert.ToBase64String(png.ToArray())}\" alt=\"{Encode(item.Image)}\" "
               + $"width=\"{info.Width}\" height=\"{info.Height}\" />";
    }

    static string Encode(string text) => WebUtility.HtmlEncode(text);
}
