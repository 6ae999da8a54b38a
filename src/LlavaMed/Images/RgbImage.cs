using SkiaSharp;

namespace LlavaMed.Images;

/// <summary>An 8-bit RGB image stored row-major as interleaved R,G,B bytes (HWC), the layout of a PIL "RGB" image
/// turned into a numpy array.</summary>
public sealed class RgbImage
{
    public int Width { get; }
    public int Height { get; }

    /// <summary>Width * Height * 3 bytes; pixel (x, y) channel c is at (y * Width + x) * 3 + c.</summary>
    public byte[] Pixels { get; }

    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.Length != checked(width * height * 3))
            throw new ArgumentException(
                $"expected {width}x{height}x3 = {width * height * 3} bytes, got {pixels.Length}", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>An image of one colour, like PIL's <c>Image.new("RGB", size, color)</c>.</summary>
    public static RgbImage Filled(int width, int height, (byte Red, byte Green, byte Blue) color)
    {
        var pixels = new byte[checked(width * height * 3)];
        for (var i = 0; i < pixels.Length; i += 3)
        {
            pixels[i] = color.Red;
            pixels[i + 1] = color.Green;
            pixels[i + 2] = color.Blue;
        }
        return new RgbImage(width, height, pixels);
    }

    public RgbImage Clone() => new(Width, Height, (byte[])Pixels.Clone());

    public static RgbImage Load(string path) => Decode(File.ReadAllBytes(path));

    /// <summary>Decodes a PNG, JPEG (or any format Skia reads) the way <c>PIL.Image.open(...).convert("RGB")</c>
    /// does: grey levels are replicated into R, G and B; alpha is dropped without compositing (the stored colour of
    /// a transparent pixel is kept); no ICC colour management and no EXIF rotation, since PIL applies neither.
    /// Multi-frame files yield their first frame.</summary>
    public static RgbImage Decode(byte[] encoded)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data)
                          ?? throw new InvalidDataException("unrecognised or corrupt image data");
        // Unpremultiplied output keeps the raw colour of translucent pixels, and a null colour space tells Skia not
        // to convert between colour profiles.
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var result = codec.GetPixels(info, out var rgba);
        if (result != SKCodecResult.Success)
            throw new InvalidDataException($"image decoding failed: {result}");

        var pixelCount = info.Width * info.Height;
        var rgb = new byte[pixelCount * 3];
        for (int source = 0, target = 0; source < pixelCount * 4; source += 4, target += 3)
        {
            rgb[target] = rgba[source];
            rgb[target + 1] = rgba[source + 1];
            rgb[target + 2] = rgba[source + 2];
        }
        return new RgbImage(info.Width, info.Height, rgb);
    }

    /// <summary>PNG bytes of this image (for display and for saving intermediate stages).</summary>
    public byte[] EncodePng()
    {
        var rgba = new byte[Width * Height * 4];
        for (int source = 0, target = 0; source < Pixels.Length; source += 3, target += 4)
        {
            rgba[target] = Pixels[source];
            rgba[target + 1] = Pixels[source + 1];
            rgba[target + 2] = Pixels[source + 2];
            rgba[target + 3] = 255;
        }
        var info = new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var image = SKImage.FromPixelCopy(info, rgba);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }
}
