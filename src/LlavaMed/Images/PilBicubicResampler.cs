namespace LlavaMed.Images;

/// <summary>PIL's <c>Image.resize(size, Image.BICUBIC)</c> for 8-bit images (libImaging/Resample.c), reproduced
/// bit for bit: a separable convolution with the a = -0.5 cubic kernel, widened by the scale factor when
/// downscaling (antialiasing), weights computed in double, normalised, then turned into 22-bit fixed point; the
/// horizontal pass runs first and each pass rounds and clips to uint8.</summary>
internal static class PilBicubicResampler
{
    // 32-bit accumulator: 8 bits of pixel value, 2 bits of headroom for the kernel's over/undershoot.
    private const int PrecisionBits = 32 - 8 - 2;
    private const double KernelSupport = 2.0;

    public static RgbImage Resize(RgbImage source, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        var image = source;
        // PIL skips a pass whose dimension is unchanged (and copies when neither changes).
        if (width != image.Width) image = ResampleHorizontally(image, ComputeWeights(image.Width, width));
        if (height != image.Height) image = ResampleVertically(image, ComputeWeights(image.Height, height));
        return ReferenceEquals(image, source) ? source.Clone() : image;
    }

    /// <summary>For each output index: the first input index, how many inputs contribute, and their fixed-point
    /// weights (row <c>i</c> of <see cref="Weights"/> starts at <c>i * MaxTaps</c>).</summary>
    private sealed record FilterWeights(int[] First, int[] Count, int[] Weights, int MaxTaps);

    private static FilterWeights ComputeWeights(int inputSize, int outputSize)
    {
        // PIL passes the box edges as floats; (float)inputSize - 0f is exact for any realistic size.
        var scale = (double)(float)inputSize / outputSize;
        var filterScale = Math.Max(scale, 1.0);
        var support = KernelSupport * filterScale;
        var maxTaps = (int)Math.Ceiling(support) * 2 + 1;
        var inverseFilterScale = 1.0 / filterScale;

        var first = new int[outputSize];
        var count = new int[outputSize];
        var weights = new int[outputSize * maxTaps];
        var taps = new double[maxTaps];
        for (var output = 0; output < outputSize; output++)
        {
            var center = (output + 0.5) * scale;
            // (int) truncates toward zero exactly like the C cast it mirrors.
            var start = Math.Max((int)(center - support + 0.5), 0);
            var end = Math.Min((int)(center + support + 0.5), inputSize);
            var tapCount = end - start;

            var sum = 0.0;
            for (var tap = 0; tap < tapCount; tap++)
            {
                var w = Bicubic((tap + start - center + 0.5) * inverseFilterScale);
                taps[tap] = w;
                sum += w;
            }
            for (var tap = 0; tap < tapCount; tap++)
            {
                var normalised = sum != 0.0 ? taps[tap] / sum : taps[tap];
                weights[output * maxTaps + tap] = normalised < 0
                    ? (int)(-0.5 + normalised * (1 << PrecisionBits))
                    : (int)(0.5 + normalised * (1 << PrecisionBits));
            }
            first[output] = start;
            count[output] = tapCount;
        }
        return new FilterWeights(first, count, weights, maxTaps);
    }

    // Keys' cubic convolution kernel with a = -0.5, written in PIL's operation order so the doubles match.
    private static double Bicubic(double x)
    {
        const double a = -0.5;
        if (x < 0.0) x = -x;
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    private static RgbImage ResampleHorizontally(RgbImage input, FilterWeights filter)
    {
        var outputWidth = filter.First.Length;
        var output = new byte[outputWidth * input.Height * 3];
        var source = input.Pixels;
        for (var y = 0; y < input.Height; y++)
        {
            var inputRow = y * input.Width * 3;
            var outputRow = y * outputWidth * 3;
            for (var x = 0; x < outputWidth; x++)
            {
                var weightsStart = x * filter.MaxTaps;
                var pixelStart = inputRow + filter.First[x] * 3;
                int red = Half, green = Half, blue = Half;
                for (var tap = 0; tap < filter.Count[x]; tap++)
                {
                    var weight = filter.Weights[weightsStart + tap];
                    var pixel = pixelStart + tap * 3;
                    red += source[pixel] * weight;
                    green += source[pixel + 1] * weight;
                    blue += source[pixel + 2] * weight;
                }
                var target = outputRow + x * 3;
                output[target] = ClipToByte(red);
                output[target + 1] = ClipToByte(green);
                output[target + 2] = ClipToByte(blue);
            }
        }
        return new RgbImage(outputWidth, input.Height, output);
    }

    private static RgbImage ResampleVertically(RgbImage input, FilterWeights filter)
    {
        var outputHeight = filter.First.Length;
        var rowBytes = input.Width * 3;
        var output = new byte[rowBytes * outputHeight];
        var source = input.Pixels;
        for (var y = 0; y < outputHeight; y++)
        {
            var weightsStart = y * filter.MaxTaps;
            var firstRow = filter.First[y] * rowBytes;
            for (var offset = 0; offset < rowBytes; offset++)
            {
                var sum = Half;
                for (var tap = 0; tap < filter.Count[y]; tap++)
                    sum += source[firstRow + tap * rowBytes + offset] * filter.Weights[weightsStart + tap];
                output[y * rowBytes + offset] = ClipToByte(sum);
            }
        }
        return new RgbImage(input.Width, outputHeight, output);
    }

    // Rounding offset: adding one half before the shift rounds to nearest.
    private const int Half = 1 << (PrecisionBits - 1);

    // The arithmetic shift floors negative sums, then the result is clamped to the byte range (PIL's clip8).
    private static byte ClipToByte(int fixedPoint) => (byte)Math.Clamp(fixedPoint >> PrecisionBits, 0, 255);
}
