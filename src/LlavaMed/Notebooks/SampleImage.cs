using SkiaSharp;

namespace LlavaMed.Notebooks;

/// <summary>Generated stand-in pictures for notebooks run where the shared fixtures are absent.</summary>
public static class SampleImage
{
    /// <summary>A PNG with a diagonal colour gradient and a bright disc, so resizing and cropping are visible.</summary>
    public static byte[] GradientPng(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        using var bitmap = new SKBitmap(width, height);
        using (var canvas = new SKCanvas(bitmap))
        {
            using var gradient = new SKPaint
            {
                Shader = SKShader.CreateLinearGradient(
                    new SKPoint(0, 0), new SKPoint(width, height),
                    [new SKColor(20, 40, 90), new SKColor(200, 90, 40)], SKShaderTileMode.Clamp),
            };
            canvas.DrawRect(0, 0, width, height, gradient);
            using var disc = new SKPaint { Color = new SKColor(240, 240, 220), IsAntialias = true };
            canvas.DrawCircle(width * 0.35f, height * 0.45f, Math.Min(width, height) * 0.2f, disc);
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
