using static TorchSharp.torch;

namespace LlavaMed.Tests;

public class SmokeTests
{
    [Fact]
    public void TorchSharpNativeLibraryLoads()
    {
        using var t = ones(2, 3);
        Assert.Equal(6f, t.sum().item<float>());
    }
}
