using LlavaMed.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Models;

/// <summary>Runs alone (the process-wide collection): it seeds libtorch's global generator, which tests running in
/// parallel would draw from between the seed and the draws.</summary>
[Collection(nameof(ProcessWideTests))]
public sealed class LinearLayerTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ItDrawsNnLinearsParametersUnderItsNamesAndComputesItsProduct(bool hasBias)
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        using var reference = nn.Linear(12, 7, hasBias);
        manual_seed(11);
        using var layer = new LinearLayer(12, 7, hasBias, new ParameterPlacement(float32, CPU));
        Assert.Equal(reference.named_parameters().Select(p => p.name), layer.named_parameters().Select(p => p.name));
        Assert.True(reference.weight!.equal(layer.Weight).all().item<bool>());
        if (hasBias) Assert.True(reference.bias!.equal(layer.Bias!).all().item<bool>());
        else Assert.Null(layer.Bias);
        Assert.True(layer.Weight.requires_grad);
        var input = randn(3, 12);
        Assert.True(reference.call(input).equal(layer.call(input)).all().item<bool>());
    }

    [Fact]
    public void ReplacedParametersAreTheOnesItUsesAndLists()
    {
        using var scope = NewDisposeScope();
        using var layer = new LinearLayer(4, 2, hasBias: true, new ParameterPlacement(float32, CPU));
        var weight = new TorchSharp.Modules.Parameter(ones(2, 4));
        var bias = new TorchSharp.Modules.Parameter(full(2, 0.5f));
        layer.ReplaceParameters(weight, bias);
        Assert.Same(weight, layer.named_parameters().Single(p => p.name == "weight").parameter);
        Assert.Same(bias, layer.named_parameters().Single(p => p.name == "bias").parameter);
        Assert.True(layer.call(ones(1, 4)).equal(full(1, 2, 4.5f)).all().item<bool>());
        Assert.Throws<ArgumentException>(() => layer.ReplaceParameters(new TorchSharp.Modules.Parameter(ones(2, 4)), null));
    }
}
