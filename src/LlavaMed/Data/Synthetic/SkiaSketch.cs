using SkiaSharp;

namespace LlavaMed.Data.Synthetic;

/// <summary>A square Skia canvas in unit coordinates ([0,1] x [0,1], y down) with the small drawing vocabulary the
/// figure and scene renderers share, and the final step that adds sensor noise and encodes a PNG.</summary>
sealed class SkiaSketch : IDisposable
{
    readonly SKBitmap bitmap;
    readonly SKCanvas canvas;
    readonly SKPaint paint = new() { IsAntialias = true };
    readonly Dictionary<float, SKMaskFilter> blurs = [];
    public int Size { get; }
    public SKCanvas Canvas => canvas;

    public SkiaSketch(int size)
    {
        Size = size;
        bitmap = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Premul));
        canvas = new SKCanvas(bitmap);
        canvas.Scale(size, size);
    }

    public static SKColor Grey(int level) => new((byte)Math.Clamp(level, 0, 255), (byte)Math.Clamp(level, 0, 255), (byte)Math.Clamp(level, 0, 255));

    public static SKColor Shade(SKColor colour, int delta) => new((byte)Math.Clamp(colour.Red + delta, 0, 255),
        (byte)Math.Clamp(colour.Green + delta, 0, 255), (byte)Math.Clamp(colour.Blue + delta, 0, 255), colour.Alpha);

    SKPaint Fill(SKColor colour, float blur)
    {
        paint.Style = SKPaintStyle.Fill;
        paint.Color = colour;
        paint.PathEffect = null;
        // Blur sigma is in unit coordinates; the mask filter follows the canvas scale.
        paint.MaskFilter = blur > 0 ? Blur(blur) : null;
        return paint;
    }

    SKPaint Stroke(SKColor colour, float width, float blur)
    {
        Fill(colour, blur);
        paint.Style = SKPaintStyle.Stroke;
        paint.StrokeWidth = width;
        paint.StrokeCap = SKStrokeCap.Round;
        return paint;
    }

    SKMaskFilter Blur(float sigma)
    {
        if (!blurs.TryGetValue(sigma, out var filter)) blurs[sigma] = filter = SKMaskFilter.CreateBlur(SKBlurStyle.Normal, sigma);
        return filter;
    }

    public void Clear(SKColor colour) => canvas.Clear(colour);

    public void Oval(float cx, float cy, float rx, float ry, SKColor colour, float blur = 0)
        => canvas.DrawOval(cx, cy, rx, ry, Fill(colour, blur));

    public void RotatedOval(float cx, float cy, float rx, float ry, float degrees, SKColor colour, float blur = 0)
    {
        canvas.Save();
        canvas.RotateDegrees(degrees, cx, cy);
        canvas.DrawOval(cx, cy, rx, ry, Fill(colour, blur));
        canvas.Restore();
    }

    public void Circle(float cx, float cy, float r, SKColor colour, float blur = 0) => canvas.DrawCircle(cx, cy, r, Fill(colour, blur));

    public void Ring(float cx, float cy, float r, float width, SKColor colour, float blur = 0)
        => canvas.DrawCircle(cx, cy, r, Stroke(colour, width, blur));

    public void OvalOutline(float cx, float cy, float rx, float ry, float width, SKColor colour, float blur = 0)
        => canvas.DrawOval(cx, cy, rx, ry, Stroke(colour, width, blur));

    public void Line(float x0, float y0, float x1, float y1, float width, SKColor colour, float blur = 0)
        => canvas.DrawLine(x0, y0, x1, y1, Stroke(colour, width, blur));

    public void Arc(SKRect oval, float start, float sweep, float width, SKColor colour, float blur = 0)
        => canvas.DrawArc(oval, start, sweep, false, Stroke(colour, width, blur));

    public void Rect(float left, float top, float right, float bottom, SKColor colour, float blur = 0)
        => canvas.DrawRect(SKRect.Create(left, top, right - left, bottom - top), Fill(colour, blur));

    public void Path(SKPath path, SKColor colour, float blur = 0, float cornerRadius = 0)
    {
        var fill = Fill(colour, blur);
        using var corner = cornerRadius > 0 ? SKPathEffect.CreateCorner(cornerRadius) : null;
        fill.PathEffect = corner;
        canvas.DrawPath(path, fill);
        fill.PathEffect = null;
    }

    public static SKPath Polygon(params (float X, float Y)[] points)
    {
        var path = new SKPath();
        path.MoveTo(points[0].X, points[0].Y);
        foreach (var (x, y) in points.Skip(1)) path.LineTo(x, y);
        path.Close();
        return path;
    }

    /// <summary>Runs <paramref name="draw"/> with drawing restricted to <paramref name="clip"/>.</summary>
    public void Clipped(SKPath clip, Action draw)
    {
        canvas.Save();
        canvas.ClipPath(clip, SKClipOperation.Intersect, antialias: true);
        draw();
        canvas.Restore();
    }

    /// <summary>A small random rotation, shift and zoom of everything drawn after it, so no two figures share
    /// exact anatomy positions.</summary>
    public void Jitter(Random random, float degrees, float shift, float zoom)
    {
        var scale = random.Uniform(1 - zoom, 1 + zoom);
        canvas.Translate(0.5f + random.Uniform(-shift, shift), 0.5f + random.Uniform(-shift, shift));
        canvas.RotateDegrees(random.Uniform(-degrees, degrees));
        canvas.Scale(scale, scale);
        canvas.Translate(-0.5f, -0.5f);
    }

    /// <summary>Adds zero-mean noise (a triangular distribution of half-width <paramref name="amplitude"/> grey
    /// levels, the same offset on all channels when <paramref name="grey"/>) and encodes the image as PNG, one
    /// grey channel for radiographs, RGB otherwise.</summary>
    public byte[] EncodePng(Random random, int amplitude, bool grey)
    {
        canvas.Flush();
        var rgba = bitmap.Bytes;
        var pixels = Size * Size;
        byte Noisy(int value, int noise) => (byte)Math.Clamp(value + noise, 0, 255);
        int Draw() => random.Next(-amplitude, amplitude + 1) + random.Next(-amplitude, amplitude + 1) >> 1;
        SKImageInfo info;
        byte[] output;
        if (grey)
        {
            output = new byte[pixels];
            for (var i = 0; i < pixels; i++) output[i] = Noisy(rgba[i * 4], Draw());
            info = new SKImageInfo(Size, Size, SKColorType.Gray8, SKAlphaType.Opaque);
        }
        else
        {
            output = new byte[pixels * 4];
            for (var i = 0; i < pixels; i++)
            {
                var shared = Draw();
                for (var c = 0; c < 3; c++) output[i * 4 + c] = Noisy(rgba[i * 4 + c], shared + (Draw() >> 2));
                output[i * 4 + 3] = 255;
            }
            info = new SKImageInfo(Size, Size, SKColorType.Rgba8888, SKAlphaType.Opaque);
        }
        using var image = SKImage.FromPixelCopy(info, output);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    public void Dispose()
    {
        paint.MaskFilter = null;
        paint.Dispose();
        foreach (var filter in blurs.Values) filter.Dispose();
        canvas.Dispose();
        bitmap.Dispose();
    }
}
