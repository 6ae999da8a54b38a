using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LlavaMed.Models;

/// <summary>LLaVA's <c>build_vision_projector</c>: <c>linear</c> (keys <c>mm_projector.{weight,bias}</c>),
/// <c>mlp{N}x_gelu</c> (an nn.Sequential of Linear, exact-erf GELU, Linear, ...: keys <c>mm_projector.{0,2,..}.*</c>)
/// or <c>identity</c> (no weights).</summary>
public static partial class Projector
{
    [GeneratedRegex(@"^mlp(\d+)x_gelu$")]
    private static partial Regex MlpGelu();

    public static Module<Tensor, Tensor> Create(string type, int visionHidden, int textHidden, ParameterPlacement placement)
    {
        int depth = Depth(type, "mm_projector_type");
        if (depth == 0) return Identity();
        if (type == "linear") return new LinearLayer(visionHidden, textHidden, hasBias: true, placement);
        var layers = new List<(string, Module<Tensor, Tensor>)> { ("0", new LinearLayer(visionHidden, textHidden, hasBias: true, placement)) };
        for (int i = 1; i < depth; i++)
        {
            // Index names as nn.Sequential numbers them: 0 Linear, 1 GELU, 2 Linear, ...
            layers.Add(((2 * i - 1).ToString(), GELU()));
            layers.Add(((2 * i).ToString(), new LinearLayer(textHidden, textHidden, hasBias: true, placement)));
        }
        return Sequential(layers);
    }

    public static void Validate(string type, string source) => Depth(type, source);

    /// <summary>Number of Linear layers: 0 for identity, 1 for linear, N for mlpNx_gelu.</summary>
    static int Depth(string type, string source)
    {
        if (type == "identity") return 0;
        if (type == "linear") return 1;
        var match = MlpGelu().Match(type);
        if (match.Success && int.TryParse(match.Groups[1].Value, out var depth) && depth >= 1) return depth;
        throw new ModelConfigException($"{source}: unknown mm_projector_type '{type}' (expected linear, mlp<N>x_gelu or identity)");
    }
}
