using LlavaMed.Data.Batching;
using LlavaMed.Models;
using LlavaMed.Training;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Models;

public sealed class ActivationCheckpointingTests
{
    /// <summary>Packed rows (shared prefix + segments, the packed attention mask), a plain row, LoRA adapters with
    /// dropout on every linear layer, and every weight trainable (so CLIP's layers are checkpointed with gradients
    /// too): the loss and every gradient, adapters included, must equal the run without checkpointing. The recompute
    /// repeats the same float32 operations, so the tolerance is tight (rtol 1e-6, atol 1e-9); without rewinding the
    /// dropout generator the adapters' gradients differ by far more.</summary>
    [Fact]
    public void CheckpointedLayersGiveTheLossAndEveryGradientOfThePlainRun()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Config());
        using var lora = LoraAdapters.Attach(model, new LoraOptions(Rank: 4, Alpha: 8, Dropout: 0.2), seed: 3);
        using (no_grad())
        using (var generator = new Generator(9))
            foreach (var b in lora.StateDict().Where(p => p.Key.Contains("lora_B")).Select(p => p.Value))
                b.normal_(0, 0.1, generator); // B starts at zero; non-zero B gives A a gradient
        model.train();
        var parameters = model.parameters().Concat(lora.Parameters).ToList();
        foreach (var parameter in parameters) parameter.requires_grad = true;

        var rows = ImagePacking.Pack(PackedSegmentsTests.VqaSamples, maxRowTokens: 100);
        Assert.Contains(rows, r => r.Segments is not null);
        var images = TinyModels.Images(2);
        var pixels = stack(rows.Select(r => images[r.ImagePath == "a" ? 0 : 1]).ToArray());

        (float Loss, Tensor[] Gradients) LossAndGradients(bool checkpointing)
        {
            foreach (var p in parameters) p.grad = null;
            using var random = new Generator(17);
            lora.DropoutGenerator = random;
            model.GradientCheckpointing = checkpointing
                ? new ActivationCheckpointing(lora.ParametersIn, () => lora.DropoutGenerator is { } g ? [g] : [])
                : null;
            using var inputs = model.PrepareInputs(rows.Select(r => r.InputIds).ToArray(), pixels, rows.Select(r => r.Labels).ToArray(),
                PaddingSide.Right, rows.Select(r => r.Segments ?? Enumerable.Repeat(PackedSegments.Shared, r.InputIds.Length).ToArray()).ToArray());
            var loss = model.TrainingLoss(inputs);
            loss.backward();
            model.GradientCheckpointing = null;
            // CLIP's post_layernorm is never used (LLaVA reads hidden states before it): no gradient either way.
            return (loss.item<float>(), parameters.Select(p => p.grad is null ? zeros_like(p) : p.grad.clone()).ToArray());
        }

        var plain = LossAndGradients(checkpointing: false);
        var checkpointed = LossAndGradients(checkpointing: true);
        Assert.Equal(plain.Loss, checkpointed.Loss);
        double worst = 0;
        int unused = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            if (plain.Gradients[i].abs().max().item<float>() == 0) unused++;
            worst = Math.Max(worst, (plain.Gradients[i] - checkpointed.Gradients[i]).abs().max().item<float>());
            Assert.True(plain.Gradients[i].allclose(checkpointed.Gradients[i], rtol: 1e-6, atol: 1e-9), $"gradient of parameter {i} differs");
        }
        // CLIP's last layer (features come from the one before, mm_vision_select_layer -2: 16 tensors) and its
        // post_layernorm (2) are unused; every other gradient, the adapters' included, is non-zero.
        Assert.Equal(18, unused);
        TestContext.Current.TestOutputHelper?.WriteLine($"{parameters.Count} gradients, largest difference {worst:E2}");
    }
}
