using LlavaMed.Models;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Models;

public sealed class SegmentedAttentionTests
{
    /// <summary>Two packed rows (a prefix and segments of different lengths, right padding) and a plain row.</summary>
    static readonly long[][] Segments =
    [
        [1, 1, 1, 2, 2, 3, 3, 3, 4, 0],
        [1, 1, 2, 2, 2, 2, 3, 0, 0, 0],
        [1, 1, 1, 1, 1, 1, 1, 1, 0, 0],
    ];

    [Fact]
    public void SegmentBySegmentEqualsTheMaskedRowsOutputsAndGradients()
    {
        using var scope = NewDisposeScope();
        var config = TinyModels.Config();
        using var model = TinyModels.Create(config);
        var attention = model.modules().OfType<DecoderAttention>().First();
        var mask = tensor(Segments.SelectMany(r => r).ToArray(), [Segments.Length, Segments[0].Length]);
        var positions = tensor(Segments.Select((r, i) => PackedSegments.Positions([.. r.TakeWhile(v => v != 0)], i).Concat(r.SkipWhile(v => v != 0).Select(_ => 0L))).SelectMany(p => p).ToArray(), [Segments.Length, Segments[0].Length]);
        var (cos, sin) = RotaryEmbedding.CosSin(positions, config.HeadDim, config.RopeTheta);
        using var generator = new TorchSharp.torch.Generator(5);
        var hidden = randn([Segments.Length, Segments[0].Length, config.HiddenSize], generator: generator);
        var real = mask.ne(0L).unsqueeze(-1).to(float32); // padding positions' outputs are unused
        var weights = randn([Segments.Length, Segments[0].Length, config.HiddenSize], generator: generator);

        (Tensor Output, Tensor Gradient) Run(Func<Tensor, Tensor> forward)
        {
            var input = hidden.detach().requires_grad_();
            var output = forward(input) * real;
            (output * weights).sum().backward();
            return (output.detach(), input.grad!.clone());
        }
        var masked = Run(x => attention.Forward(x, cos, sin,
            AttentionMask.Build(mask, Segments.Length, Segments[0].Length, 0, null, float32, CPU), null, 0));
        using var segmented = SegmentedAttention.Build(mask, float32)!;
        var bySegment = Run(x => attention.Forward(x, cos, sin, null, null, 0, segmented));

        Assert.Equal(1 + 3 + 1 + 2 + 1, segmented.Groups); // each row's prefix, then its segments
        Assert.True(masked.Output.allclose(bySegment.Output, rtol: 1e-5, atol: 1e-6), "outputs differ");
        Assert.True(masked.Gradient.allclose(bySegment.Gradient, rtol: 1e-5, atol: 1e-6), "input gradients differ");
        Assert.False(masked.Output.allclose(Run(x => attention.Forward(x, cos, sin, null, null, 0)).Output, rtol: 1e-3, atol: 1e-4),
                     "plain causal attention over the packed rows should differ");
    }

    [Fact]
    public void RowsWithoutSegmentsKeepTheCausalPath() =>
        Assert.Null(SegmentedAttention.Build(tensor(new long[] { 1, 1, 1, 0, 1, 1, 1, 1 }, [2, 4]), float32));
}
