using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Models;

/// <summary>Hugging Face's <c>_init_weights</c> for LLaVA models (normal(0, initializer_range) for weights and
/// embeddings, zero biases, unit norm scales), drawn from a private generator in parameter-name order, so the
/// same seed gives the same weights whatever else the process is doing with torch's global generator.</summary>
public static class WeightInitialization
{
    public const double InitializerRange = 0.02;

    public static void Initialize(nn.Module model, ulong seed)
    {
        using var generator = new Generator(seed);
        using var _ = no_grad();
        using var one = 1.0.ToScalar(); // explicit Scalars: see TensorArithmetic
        foreach (var (name, parameter) in model.named_parameters().OrderBy(p => p.name, StringComparer.Ordinal))
        {
            if (name.EndsWith(".bias", StringComparison.Ordinal)) parameter.zero_();
            else if (IsNormScale(name)) parameter.fill_(one);
            else parameter.normal_(0, InitializerRange, generator);
        }
    }

    /// <summary>Norm scales start at one (LayerNorm and RMSNorm weights).</summary>
    public static bool IsNormScale(string name) =>
        name.Contains("norm", StringComparison.Ordinal) || name.Contains("layrnorm", StringComparison.Ordinal);
}
