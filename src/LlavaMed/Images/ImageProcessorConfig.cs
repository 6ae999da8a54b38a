using System.Text.Json;

namespace LlavaMed.Images;

/// <summary>One value per colour channel, in R, G, B order.</summary>
public readonly record struct ChannelValues(double Red, double Green, double Blue)
{
    public double this[int channel] => channel switch
    {
        0 => Red,
        1 => Green,
        2 => Blue,
        _ => throw new ArgumentOutOfRangeException(nameof(channel), channel, "channel must be 0, 1 or 2"),
    };
}

/// <summary>The settings of a Hugging Face <c>CLIPImageProcessor</c> (<c>preprocessor_config.json</c>). The defaults
/// are those of the released openai/clip-vit-large-patch14-336 processor used by LLaVA-Med v1.5. Resampling is
/// always PIL BICUBIC (<c>resample</c> 3); configs asking for another filter are rejected when read.</summary>
public sealed record ImageProcessorConfig
{
    /// <summary>PIL's <c>Resampling.BICUBIC</c>, the only <c>resample</c> value supported.</summary>
    public const int PilBicubic = 3;

    public bool DoResize { get; init; } = true;

    /// <summary><c>size.shortest_edge</c>: the resize makes the shorter side this long, keeping the aspect ratio.
    /// </summary>
    public int ShortestEdge { get; init; } = 336;

    public bool DoCenterCrop { get; init; } = true;
    public int CropHeight { get; init; } = 336;
    public int CropWidth { get; init; } = 336;
    public bool DoRescale { get; init; } = true;
    public double RescaleFactor { get; init; } = 1.0 / 255.0;
    public bool DoNormalize { get; init; } = true;
    public ChannelValues ImageMean { get; init; } = new(0.48145466, 0.4578275, 0.40821073);
    public ChannelValues ImageStd { get; init; } = new(0.26862954, 0.26130258, 0.27577711);

    /// <summary><c>do_convert_rgb</c>. Recorded for completeness: <see cref="RgbImage"/> is always RGB.</summary>
    public bool DoConvertRgb { get; init; } = true;

    /// <summary>openai/clip-vit-large-patch14-336: shortest edge 336, crop 336x336, CLIP mean/std.</summary>
    public static ImageProcessorConfig ClipVitLarge336 { get; } = new();

    /// <summary>The <c>expand2square</c> background: <c>tuple(int(x * 255) for x in image_mean)</c>, i.e. truncated,
    /// (122, 116, 104) for CLIP.</summary>
    public (byte Red, byte Green, byte Blue) PadColor =>
        (ToPadByte(ImageMean.Red), ToPadByte(ImageMean.Green), ToPadByte(ImageMean.Blue));

    private static byte ToPadByte(double meanChannel) => (byte)Math.Clamp((int)(meanChannel * 255), 0, 255);

    public static ImageProcessorConfig FromFile(string path)
    {
        try
        {
            return FromJson(File.ReadAllText(path));
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        catch (NotSupportedException e)
        {
            throw new NotSupportedException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Reads a <c>preprocessor_config.json</c>. Missing keys take CLIPImageProcessor's defaults. Both the
    /// current form (<c>"size": {"shortest_edge": n}</c>, <c>"crop_size": {"height": h, "width": w}</c>) and the
    /// older integer form (<c>"size": n</c>, <c>"crop_size": n</c>) are accepted.</summary>
    public static ImageProcessorConfig FromJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException("preprocessor config must be a JSON object");

        var defaults = ClipVitLarge336;
        var resample = root.TryGetProperty("resample", out var resampleElement) ? resampleElement.GetInt32() : PilBicubic;
        if (resample != PilBicubic)
            throw new NotSupportedException(
                $"unsupported resample {resample} ({PilFilterName(resample)}): only {PilBicubic} (PIL BICUBIC) is implemented");

        var (cropHeight, cropWidth) = ReadCropSize(root, defaults);
        return new ImageProcessorConfig
        {
            DoResize = ReadBool(root, "do_resize", defaults.DoResize),
            ShortestEdge = ReadShortestEdge(root, defaults.ShortestEdge),
            DoCenterCrop = ReadBool(root, "do_center_crop", defaults.DoCenterCrop),
            CropHeight = cropHeight,
            CropWidth = cropWidth,
            DoRescale = ReadBool(root, "do_rescale", defaults.DoRescale),
            RescaleFactor = root.TryGetProperty("rescale_factor", out var factor) ? factor.GetDouble() : defaults.RescaleFactor,
            DoNormalize = ReadBool(root, "do_normalize", defaults.DoNormalize),
            ImageMean = ReadChannels(root, "image_mean", defaults.ImageMean),
            ImageStd = ReadChannels(root, "image_std", defaults.ImageStd),
            DoConvertRgb = ReadBool(root, "do_convert_rgb", defaults.DoConvertRgb),
        };
    }

    /// <summary>The <c>preprocessor_config.json</c> CLIPImageProcessor writes (current form).</summary>
    public string ToJson() => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["crop_size"] = new Dictionary<string, int> { ["height"] = CropHeight, ["width"] = CropWidth },
        ["do_center_crop"] = DoCenterCrop,
        ["do_convert_rgb"] = DoConvertRgb,
        ["do_normalize"] = DoNormalize,
        ["do_rescale"] = DoRescale,
        ["do_resize"] = DoResize,
        ["image_mean"] = new[] { ImageMean.Red, ImageMean.Green, ImageMean.Blue },
        ["image_processor_type"] = "CLIPImageProcessor",
        ["image_std"] = new[] { ImageStd.Red, ImageStd.Green, ImageStd.Blue },
        ["resample"] = PilBicubic,
        ["rescale_factor"] = RescaleFactor,
        ["size"] = new Dictionary<string, int> { ["shortest_edge"] = ShortestEdge },
    }, new JsonSerializerOptions { WriteIndented = true });

    private static string PilFilterName(int resample) => resample switch
    {
        0 => "NEAREST",
        1 => "LANCZOS",
        2 => "BILINEAR",
        4 => "BOX",
        5 => "HAMMING",
        _ => "unknown",
    };

    private static bool ReadBool(JsonElement root, string name, bool fallback) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value.GetBoolean() : fallback;

    private static int ReadShortestEdge(JsonElement root, int fallback)
    {
        if (!root.TryGetProperty("size", out var size) || size.ValueKind == JsonValueKind.Null) return fallback;
        if (size.ValueKind == JsonValueKind.Number) return RequirePositive(size.GetInt32(), "size");
        if (size.TryGetProperty("shortest_edge", out var edge)) return RequirePositive(edge.GetInt32(), "size.shortest_edge");
        throw new NotSupportedException(
            $"unsupported size {size.GetRawText()}: only size.shortest_edge (CLIP's aspect-preserving resize) is implemented");
    }

    private static (int Height, int Width) ReadCropSize(JsonElement root, ImageProcessorConfig defaults)
    {
        if (!root.TryGetProperty("crop_size", out var crop) || crop.ValueKind == JsonValueKind.Null)
            return (defaults.CropHeight, defaults.CropWidth);
        if (crop.ValueKind == JsonValueKind.Number)
        {
            var side = RequirePositive(crop.GetInt32(), "crop_size");
            return (side, side);
        }
        if (crop.TryGetProperty("height", out var height) && crop.TryGetProperty("width", out var width))
            return (RequirePositive(height.GetInt32(), "crop_size.height"), RequirePositive(width.GetInt32(), "crop_size.width"));
        throw new InvalidDataException($"crop_size must be a number or have height and width: {crop.GetRawText()}");
    }

    private static ChannelValues ReadChannels(JsonElement root, string name, ChannelValues fallback)
    {
        if (!root.TryGetProperty(name, out var values) || values.ValueKind == JsonValueKind.Null) return fallback;
        if (values.ValueKind == JsonValueKind.Number)
        {
            var single = values.GetDouble();
            return new ChannelValues(single, single, single);
        }
        if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() != 3)
            throw new InvalidDataException($"{name} must be a number or a list of 3 numbers: {values.GetRawText()}");
        return new ChannelValues(values[0].GetDouble(), values[1].GetDouble(), values[2].GetDouble());
    }

    private static int RequirePositive(int value, string name) =>
        value > 0 ? value : throw new InvalidDataException($"{name} must be positive, got {value}");
}
