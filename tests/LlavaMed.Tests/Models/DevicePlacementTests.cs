using System.Text.RegularExpressions;
using LlavaMed.Models;
using LlavaMed.Workbench;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Models;

/// <summary>
/// Every tensor the model and the pipeline make must be on the model's device. No GPU here, and the <c>meta</c>
/// device cannot run the model in libtorch 2.10's C++ build (no meta kernels for the embedding lookup or the patch
/// convolution, and the attention mask reads values to decide its shape), so: the splice runs on meta, which
/// libtorch refuses to mix with CPU tensors in element-wise ops; and a source audit fails on any tensor factory call
/// in the model, pipeline and trainer that names no device.
/// </summary>
public sealed partial class DevicePlacementTests
{
    /// <summary>Calls that make CPU tensors on purpose, with why.</summary>
    static readonly Dictionary<string, string> CpuOnPurpose = new()
    {
        ["Inference/InspectForward.cs: tensor(flat, [rows.Count, width])"] = "greedy tokens written to a file",
        ["Training/AdamWOptimizer.cs: tensor(new[] { state.Step })"] = "the step count saved with the optimiser state",
        ["Training/ZeroAdamWOptimizer.cs: tensor(new[] { steps[slot.Parameter] })"] = "the step count saved with the gathered optimiser state",
    };

    [GeneratedRegex(@"(?<![\w.])(tensor|zeros|ones|arange|full|empty|randn|rand|eye|linspace)\(")]
    private static partial Regex FactoryCall();

    [Fact]
    public void EveryTensorFactoryCallInTheModelPipelineAndTrainerNamesADevice()
    {
        var root = Path.Combine(WorkbenchPaths.FindRepositoryRoot(AppContext.BaseDirectory)!, "src", "LlavaMed");
        var offenders = new List<string>();
        foreach (var folder in new[] { "Models", "Inference", "Training" })
            foreach (var file in Directory.EnumerateFiles(Path.Combine(root, folder), "*.cs"))
            {
                var source = File.ReadAllText(file);
                foreach (Match match in FactoryCall().Matches(source))
                {
                    if (source.LastIndexOf('\n', match.Index) is var lineStart && source[(lineStart + 1)..match.Index].TrimStart().StartsWith("//"))
                        continue;
                    var call = CallText(source, match.Index);
                    var key = $"{folder}/{Path.GetFileName(file)}: {call}";
                    if (!call.Contains("device", StringComparison.OrdinalIgnoreCase) && !call.Contains("Device") && !CpuOnPurpose.ContainsKey(key))
                        offenders.Add(key);
                }
            }
        Assert.Empty(offenders);
    }

    static string CallText(string source, int start)
    {
        int depth = 0, i = source.IndexOf('(', start);
        do depth += source[i] == '(' ? 1 : source[i] == ')' ? -1 : 0;
        while (depth > 0 && ++i < source.Length);
        return source[start..(i + 1)];
    }

    [Fact]
    public void CpuTensorsMeetingAMetaTensorFail()
    {
        using var meta = ones(2, 3, device: META);
        using var cpu = ones(2, 3);
        var error = Assert.ThrowsAny<Exception>(() => { using var _ = meta.add(cpu); });
        Assert.Contains("device", error.Message);
    }

    [Fact]
    public void SpliceMakesEmbeddingsMaskPositionsAndLabelsOnTheFeaturesDevice()
    {
        using var scope = NewDisposeScope();
        var config = TinyModels.Config();
        using var features = zeros(2, config.Vision.NumPatches, config.HiddenSize, device: META);
        // The embedding lookup has no meta kernel: stand in for it, checking that the ids come on the device.
        Tensor Embed(Tensor ids)
        {
            Assert.Equal(DeviceType.META, ids.device_type);
            return zeros(ids.shape[0], config.HiddenSize, device: META);
        }
        long[] first = [1, 5, MultimodalSplice.ImageTokenIndex, 7, 8];
        long[] second = [1, MultimodalSplice.ImageTokenIndex, 9];
        foreach (var side in new[] { PaddingSide.Left, PaddingSide.Right })
        {
            using var inputs = MultimodalSplice.SplicePlaceholders([first, second], [[-100, -100, -100, 7, 8], [-100, -100, 9]],
                features, Embed, config.TokenizerModelMaxLength, side);
            Assert.Equal(DeviceType.META, inputs.InputsEmbeds.device_type);
            Assert.Equal(DeviceType.META, inputs.AttentionMask.device_type);
            Assert.Equal(DeviceType.META, inputs.PositionIds.device_type);
            Assert.Equal(DeviceType.META, inputs.Labels!.device_type);
        }
    }
}
