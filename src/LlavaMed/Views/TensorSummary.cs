using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Views;

/// <summary>What a notebook shows for a tensor: its shape, dtype and device, the minimum, maximum and mean, how many
/// values are NaN or infinite, and its first few values. The statistics are reduced where the tensor lives and only
/// the resulting scalars and the preview slice are copied to the host, so summarising a large GPU tensor costs a
/// few reductions, not a transfer. Meta tensors (no data) and empty ones get shape, dtype and device only.</summary>
public sealed record TensorSummary(IReadOnlyList<long> Shape, ScalarType Dtype, string Device, bool RequiresGrad,
                                   double? Min, double? Max, double? Mean, long? NonFinite,
                                   IReadOnlyList<double> Preview, long Count)
{
    /// <summary>How many leading values (in row-major order) the preview shows unless told otherwise.</summary>
    public const int DefaultPreviewCount = 8;

    public static TensorSummary Of(Tensor tensor, int previewCount = DefaultPreviewCount)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ArgumentOutOfRangeException.ThrowIfNegative(previewCount);
        var shape = tensor.shape;
        var count = tensor.numel();
        var summary = new TensorSummary(shape, tensor.dtype, tensor.device.ToString(), tensor.requires_grad,
                                        null, null, null, null, [], count);
        if (count == 0 || tensor.device_type == DeviceType.META || tensor.is_complex()) return summary;

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var flat = tensor.detach().reshape(-1);   // a view when the tensor is contiguous
        var shown = (int)Math.Min(previewCount, count);
        var preview = flat.narrow(0, 0, shown).to_type(ScalarType.Float64).cpu();
        return summary with
        {
            Min = ToHost(flat.min()),
            Max = ToHost(flat.max()),
            Mean = ToHost(flat.mean([0], false, ScalarType.Float64)),
            NonFinite = tensor.is_floating_point() ? flat.isfinite().logical_not().sum().item<long>() : 0,
            Preview = preview.data<double>().ToArray(),
        };
    }

    static double ToHost(Tensor scalar) => scalar.to_type(ScalarType.Float64).item<double>();

    public string ShapeText => $"[{string.Join(", ", Shape)}]";

    /// <summary>The statistics as "min .. max, mean m", or why there are none.</summary>
    public string StatisticsText => Min is null
        ? Count == 0 ? "empty" : Device.StartsWith("meta", StringComparison.Ordinal) ? "no data (meta device)" : "no statistics (complex)"
        : $"min {Number(Min)}, max {Number(Max)}, mean {Number(Mean)}" + (NonFinite > 0 ? $", {NonFinite:N0} NaN/inf" : "");

    public string PreviewText => Preview.Count == 0
        ? "-"
        : "[" + string.Join(", ", Preview.Select(v => Number(v))) + (Count > Preview.Count ? ", …]" : "]");

    public HtmlView ToHtml() => HtmlView.Table(["tensor", "dtype", "device", "values", "statistics", "first values"],
        [[ShapeText + (RequiresGrad ? " (requires grad)" : ""), Dtype.ToString(), Device, Count.ToString("N0", CultureInfo.InvariantCulture),
          StatisticsText, PreviewText]]);

    public override string ToString() => $"Tensor {ShapeText} {Dtype} on {Device}: {StatisticsText}; {PreviewText}";

    static string Number(double? value) => value?.ToString("G5", CultureInfo.InvariantCulture) ?? "-";
}
