using System.Buffers.Binary;
using System.Text.Json;
using LlavaMed.Images;
using SkiaSharp;

namespace LlavaMed.Tests.Images;

public class ImageProcessorTests
{
    private static void Report(string message) => TestContext.Current.TestOutputHelper?.WriteLine(message);

    [Theory]
    [InlineData("img_300x200", "_pad_lo", 50)]
    [InlineData("img_300x200", "_pad_hi", 51)]
    [InlineData("img_120x260", "_pad_lo", 70)]
    [InlineData("img_120x260", "_pad_hi", 71)]
    [InlineData("img_256x256", "", null)]
    public void StagesMatchReferenceProcessor(string name, string suffix, int? pasteOffset)
    {
        var folder = SharedFixtures.ImagePreprocess;
        var expected = FixtureTensors.Read(Path.Combine(folder, name + ".safetensors"));
        var config = ImageProcessorConfig.ClipVitLarge336;
        var image = RgbImage.Load(Path.Combine(folder, name + ".png"));

        var square = ClipImageProcessor.ExpandToSquare(image, config.PadColor, pasteOffset);
        var expectedSquare = expected["square_uint8" + suffix];
        Assert.Equal([square.Height, square.Width, 3], expectedSquare.Shape);
        Assert.Equal(expectedSquare.Bytes, square.Pixels);

        var (width, height) = ClipImageProcessor.ShortestEdgeResizeSize(square.Width, square.Height, config.ShortestEdge);
        var resized = ClipImageProcessor.ResizeBicubic(square, width, height);
        var cropped = ClipImageProcessor.CenterCrop(resized, config.CropWidth, config.CropHeight);
        var (maxByteDiff, differingBytes) = CompareBytes(expected["resized_cropped_uint8" + suffix].Bytes, cropped.Pixels);
        Report($"{name}{suffix} resized_cropped_uint8: max |diff| {maxByteDiff}, {differingBytes} differing values");
        Assert.True(maxByteDiff <= 1, $"resized_cropped max |diff| {maxByteDiff} > 1");

        var pixelValues = ClipImageProcessor.RescaleAndNormalize(cropped, config);
        var maxValueDiff = MaxAbsDiff(expected["pixel_values" + suffix].Floats, pixelValues);
        Report($"{name}{suffix} pixel_values: max |diff| {maxValueDiff:G3}");
        Assert.True(maxValueDiff <= 0.01, $"pixel_values max |diff| {maxValueDiff} > 0.01");

        // Our resampler reproduces PIL's fixed-point arithmetic, so the match is exact.
        Assert.Equal(0, differingBytes);
        Assert.Equal(0.0, maxValueDiff);
    }

    [Theory]
    [InlineData("img_300x200", "_pad_lo")]
    [InlineData("img_120x260", "_pad_lo")]
    [InlineData("img_256x256", "")]
    public void DefaultProcessorIsDeterministicAndMatchesLowOffset(string name, string suffix)
    {
        var folder = SharedFixtures.ImagePreprocess;
        var expected = FixtureTensors.Read(Path.Combine(folder, name + ".safetensors"));
        var processor = new ClipImageProcessor(ImageProcessorConfig.ClipVitLarge336);
        var image = RgbImage.Load(Path.Combine(folder, name + ".png"));

        Assert.Equal(expected["resized_cropped_uint8" + suffix].Bytes, processor.PadResizeCrop(image).Pixels);
        Assert.Equal(expected["pixel_values" + suffix].Floats, processor.Preprocess(image));
    }

    [Fact]
    public void PadJitterPicksTheLowOrHighOffset()
    {
        var folder = SharedFixtures.ImagePreprocess;
        var expected = FixtureTensors.Read(Path.Combine(folder, "img_300x200.safetensors"));
        var low = expected["pixel_values_pad_lo"].Floats;
        var high = expected["pixel_values_pad_hi"].Floats;
        var image = RgbImage.Load(Path.Combine(folder, "img_300x200.png"));
        var processor = new ClipImageProcessor(ImageProcessorConfig.ClipVitLarge336, ImageAspectMode.Pad, new Random(1234));

        var seen = new HashSet<string>();
        for (var run = 0; run < 8; run++)
        {
            var values = processor.Preprocess(image);
            if (values.AsSpan().SequenceEqual(low)) seen.Add("lo");
            else if (values.AsSpan().SequenceEqual(high)) seen.Add("hi");
            else Assert.Fail($"run {run} matches neither padding offset");
        }
        Assert.Equal(["hi", "lo"], seen.Order());
    }

    [Fact]
    public void TinyProcessorMatchesCasePixelValues()
    {
        var tiny = SharedFixtures.V15Tiny;
        var config = ImageProcessorConfig.FromFile(Path.Combine(tiny, "vision_tower", "preprocessor_config.json"));
        var image = RgbImage.Load(Path.Combine(SharedFixtures.ImagePreprocess, "img_256x256.png"));
        var expected = FixtureTensors.Read(Path.Combine(tiny, "case.safetensors"))["pixel_values"];

        using var batch = new ClipImageProcessor(config).PreprocessBatch([image]);
        Assert.Equal(expected.Shape.Select(d => (long)d).ToArray(), batch.shape);
        var maxDiff = MaxAbsDiff(expected.Floats, batch.data<float>().ToArray());
        Report($"tiny 56-px pixel_values: max |diff| {maxDiff:G3}");
        Assert.True(maxDiff <= 1e-5, $"max |diff| {maxDiff} > 1e-5");
    }

    [Fact]
    public void TinyPreprocessorConfigIsParsed()
    {
        var path = Path.Combine(SharedFixtures.V15Tiny, "vision_tower", "preprocessor_config.json");
        var config = ImageProcessorConfig.FromFile(path);
        Assert.Equal(ImageProcessorConfig.ClipVitLarge336 with { ShortestEdge = 56, CropHeight = 56, CropWidth = 56 }, config);
        Assert.Equal(((byte)122, (byte)116, (byte)104), config.PadColor);
    }

    [Fact]
    public void DefaultConfigIsTheReleasedClip336Processor()
    {
        // openai/clip-vit-large-patch14-336's preprocessor_config.json uses the older integer size form.
        const string released = """
            {"crop_size": 336, "do_center_crop": true, "do_normalize": true, "do_resize": true,
             "feature_extractor_type": "CLIPFeatureExtractor",
             "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
             "resample": 3, "size": 336}
            """;
        var config = ImageProcessorConfig.FromJson(released);
        Assert.Equal(ImageProcessorConfig.ClipVitLarge336, config);
        Assert.Equal(1.0 / 255.0, config.RescaleFactor);
        Assert.Equal(((byte)122, (byte)116, (byte)104), config.PadColor);
    }

    [Fact]
    public void UnsupportedResampleIsRejected()
    {
        var error = Assert.Throws<NotSupportedException>(() =>
            ImageProcessorConfig.FromJson("""{"resample": 2, "size": {"shortest_edge": 336}}"""));
        Assert.Contains("resample 2", error.Message);
        Assert.Contains("BILINEAR", error.Message);
    }

    [Fact]
    public void GrayscalePngDecodesToReplicatedRgb()
    {
        var gray = new byte[] { 0, 17, 77, 128, 200, 255 };
        using var bitmap = new SKBitmap(new SKImageInfo(3, 2, SKColorType.Gray8, SKAlphaType.Opaque));
        System.Runtime.InteropServices.Marshal.Copy(gray, 0, bitmap.GetPixels(), gray.Length);

        var image = RgbImage.Decode(EncodePng(bitmap));

        Assert.Equal((3, 2), (image.Width, image.Height));
        Assert.Equal(gray.SelectMany(level => new[] { level, level, level }).ToArray(), image.Pixels);
    }

    [Fact]
    public void RgbaPngDropsAlphaWithoutCompositing()
    {
        byte[] rgba = [10, 20, 30, 0, 200, 100, 50, 128, 1, 2, 3, 255, 250, 251, 252, 7];
        using var bitmap = new SKBitmap(new SKImageInfo(2, 2, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);

        var image = RgbImage.Decode(EncodePng(bitmap));

        Assert.Equal(rgba.Where((_, i) => i % 4 != 3).ToArray(), image.Pixels);
    }

    [Fact]
    public void SquareImageIsNotPaddedEvenWithJitter()
    {
        var image = new RgbImage(2, 2, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        Assert.Same(image, ClipImageProcessor.ExpandToSquare(image, (122, 116, 104), 1));
    }

    [Fact]
    public void ExpandToSquareRejectsOffsetsOutsideTheCanvas()
    {
        var image = RgbImage.Filled(4, 2, (1, 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClipImageProcessor.ExpandToSquare(image, (0, 0, 0), 3));
        var bottom = ClipImageProcessor.ExpandToSquare(image, (9, 9, 9), 2);
        Assert.Equal((byte)9, bottom.Pixels[0]);
        Assert.Equal((byte)1, bottom.Pixels[(2 * 4) * 3]);
    }

    [Fact]
    public void AspectModeFollowsLlavaConfigValue()
    {
        Assert.Equal(ImageAspectMode.Pad, ImageAspectModes.FromConfigValue("pad"));
        Assert.Equal(ImageAspectMode.None, ImageAspectModes.FromConfigValue(null));
        Assert.Equal(ImageAspectMode.None, ImageAspectModes.FromConfigValue("square"));
    }

    [Fact]
    public void UnpaddedModeResizesShortestEdgeAndCropsCentre()
    {
        var config = ImageProcessorConfig.ClipVitLarge336;
        Assert.Equal((504, 336), ClipImageProcessor.ShortestEdgeResizeSize(300, 200, 336));
        Assert.Equal((336, 728), ClipImageProcessor.ShortestEdgeResizeSize(120, 260, 336));
        Assert.Equal((505, 336), ClipImageProcessor.ShortestEdgeResizeSize(301, 200, 336)); // 505.68 truncated
        var image = RgbImage.Load(Path.Combine(SharedFixtures.ImagePreprocess, "img_300x200.png"));
        var processor = new ClipImageProcessor(config, ImageAspectMode.None);
        var prepared = processor.PadResizeCrop(image);
        Assert.Equal((336, 336), (prepared.Width, prepared.Height));
        var resized = ClipImageProcessor.ResizeBicubic(image, 504, 336);
        Assert.Equal(ClipImageProcessor.CenterCrop(resized, 336, 336).Pixels, prepared.Pixels);
    }

    [Fact]
    public void CenterCropPadsSmallImagesWithBlackLikeTransformers()
    {
        var image = RgbImage.Filled(2, 4, (50, 60, 70));
        // Width 2 -> 4 (even difference): centred with one black column each side; height 4 -> 2: rows 1..2.
        var cropped = ClipImageProcessor.CenterCrop(image, 4, 2);
        Assert.Equal((4, 2), (cropped.Width, cropped.Height));
        byte[] row = [0, 0, 0, 50, 60, 70, 50, 60, 70, 0, 0, 0];
        Assert.Equal(row.Concat(row).ToArray(), cropped.Pixels);
        // An odd shortfall comes out one pixel short, as in transformers.
        var odd = ClipImageProcessor.CenterCrop(image, 5, 4);
        Assert.Equal((4, 4), (odd.Width, odd.Height));
    }

    [Fact]
    public void ResizeToSameSizeIsACopy()
    {
        var image = new RgbImage(2, 1, [1, 2, 3, 4, 5, 6]);
        var resized = ClipImageProcessor.ResizeBicubic(image, 2, 1);
        Assert.NotSame(image, resized);
        Assert.Equal(image.Pixels, resized.Pixels);
    }

    [Fact]
    public void BatchTensorHasBatchChannelHeightWidthLayout()
    {
        float[] first = Enumerable.Range(0, 12).Select(i => (float)i).ToArray();
        float[] second = Enumerable.Range(100, 12).Select(i => (float)i).ToArray();
        using var batch = ClipImageProcessor.ToBatchTensor([first, second], 2, 2);
        Assert.Equal([2L, 3, 2, 2], batch.shape);
        Assert.Equal(TorchSharp.torch.ScalarType.Float32, batch.dtype);
        Assert.Equal(101f, batch[1, 0, 0, 1].item<float>());
        Assert.Equal(7f, batch[0, 1, 1, 1].item<float>());
        Assert.Throws<ArgumentException>(() => ClipImageProcessor.ToBatchTensor([first], 3, 3));
    }

    [Fact]
    public void ToBatchTensorPutsEachFilledImageAtItsIndex()
    {
        // Each value encodes (image, position): every image lands at its own offset, none overwrites another.
        const int count = 37, height = 5, width = 3;
        using var batch = ClipImageProcessor.ToBatchTensor(count, height, width, (i, image) =>
        {
            for (int j = 0; j < image.Length; j++) image[j] = i * 1000 + j;
        });
        Assert.Equal([(long)count, 3, height, width], batch.shape);
        var values = batch.data<float>().ToArray();
        Assert.Equal(Enumerable.Range(0, count).SelectMany(i => Enumerable.Range(0, 3 * height * width).Select(j => (float)(i * 1000 + j))), values);
        using var none = ClipImageProcessor.ToBatchTensor([], height, width);
        Assert.Equal([0L, 3, height, width], none.shape);
    }

    private static byte[] EncodePng(SKBitmap bitmap)
    {
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static (int MaxDiff, int Count) CompareBytes(byte[] expected, byte[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        int max = 0, count = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            var diff = Math.Abs(expected[i] - actual[i]);
            if (diff == 0) continue;
            count++;
            max = Math.Max(max, diff);
        }
        return (max, count);
    }

    private static double MaxAbsDiff(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        var max = 0.0;
        for (var i = 0; i < expected.Length; i++) max = Math.Max(max, Math.Abs((double)expected[i] - actual[i]));
        return max;
    }

    /// <summary>A minimal safetensors reader for the fixtures (U8 and F32 only), private to these tests.</summary>
    private sealed record FixtureTensor(string DType, int[] Shape, byte[] Bytes)
    {
        public float[] Floats
        {
            get
            {
                Assert.Equal("F32", DType);
                var values = new float[Bytes.Length / 4];
                for (var i = 0; i < values.Length; i++)
                    values[i] = BinaryPrimitives.ReadSingleLittleEndian(Bytes.AsSpan(i * 4, 4));
                return values;
            }
        }
    }

    private static class FixtureTensors
    {
        public static Dictionary<string, FixtureTensor> Read(string path)
        {
            var file = File.ReadAllBytes(path);
            var headerLength = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(file));
            using var header = JsonDocument.Parse(file.AsMemory(8, headerLength));
            var dataStart = 8 + headerLength;
            var tensors = new Dictionary<string, FixtureTensor>();
            foreach (var entry in header.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__") continue;
                var offsets = entry.Value.GetProperty("data_offsets");
                var begin = dataStart + offsets[0].GetInt32();
                var end = dataStart + offsets[1].GetInt32();
                tensors[entry.Name] = new FixtureTensor(
                    entry.Value.GetProperty("dtype").GetString()!,
                    entry.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray(),
                    file[begin..end]);
            }
            return tensors;
        }
    }
}
