using System.Diagnostics;
using LlavaMed.Checkpoints;
using LlavaMed.Inference;
using LlavaMed.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Models;

public sealed class ModelBehaviourTests
{
    static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    [Fact]
    public void LossIsTheShiftedCrossEntropyOverSupervisedPositions()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Config());
        long[] ids = [1, 5, MultimodalSplice.ImageTokenIndex, 7, 8, 9];
        long[] labels = [-100, -100, -100, 7, 8, 9];
        using var inputs = model.PrepareInputs([ids], TinyModels.Images(1), [labels]);
        var output = model.Forward(inputs);
        var logits = output.Logits[0];
        var targets = inputs.Labels![0];
        // By hand: position t predicts label t+1; only supervised targets count.
        var supervised = Enumerable.Range(0, (int)inputs.Length - 1).Where(t => targets[t + 1].item<long>() != -100).ToArray();
        var manual = supervised.Select(t => -logits[t].log_softmax(-1)[targets[t + 1].item<long>()].item<float>()).Average();
        Assert.Equal(3, supervised.Length);
        Assert.Equal(manual, output.Loss!.item<float>(), 5);
    }

    /// <summary>The training loss runs the last layer only where a next token is supervised; it must equal the full
    /// forward's loss: with padding (the mask's rows gathered), without (causal rows built), with a sliding window,
    /// and with a row that supervises nothing.</summary>
    [Theory]
    [InlineData("padded", null)]
    [InlineData("equal-length", null)]
    [InlineData("one-row-unsupervised", null)]
    [InlineData("padded", 3)]
    public void TrainingLossEqualsTheForwardLossAndItsGradients(string rows, int? slidingWindow)
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Config(slidingWindow: slidingWindow));
        const long Image = MultimodalSplice.ImageTokenIndex;
        var (ids, labels) = rows switch
        {
            "padded" => (new long[][] { [1, 5, Image, 7, 8, 9], [1, Image, 11, 12] }, new long[][] { [-100, -100, -100, 7, 8, 9], [-100, -100, -100, 12] }),
            "equal-length" => ([[1, 5, Image, 7, 8, 9], [1, Image, 11, 12, 13, 14]], [[-100, -100, -100, 7, 8, 9], [-100, -100, -100, -100, 13, -100]]),
            _ => ([[1, 5, Image, 7, 8, 9], [1, Image, 11, 12, 13, 14]], [[-100, -100, -100, -100, -100, -100], [-100, -100, 11, 12, 13, 14]]),
        };
        using var inputs = model.PrepareInputs(ids, TinyModels.Images(2), labels, PaddingSide.Right);
        // Padded rows (or a sliding window) give the decoder a mask whose rows are gathered; equal rows, none (causal rows built).
        using var mask = AttentionMask.Build(inputs.AttentionMask, inputs.BatchSize, inputs.Length, 0, slidingWindow, float32, CPU);
        Assert.Equal(rows == "padded", mask is not null);
        var parameters = model.parameters().ToList();
        Tensor[] Gradients(Func<Tensor> loss)
        {
            foreach (var p in parameters) p.grad = null;
            loss().backward(retain_graph: true);
            // A parameter the loss never reaches (e.g. the vision tower's unused pooler) has no gradient: zeros.
            return parameters.Select(p => p.grad is null ? zeros_like(p) : p.grad.clone()).ToArray();
        }
        var full = model.Forward(inputs).Loss!;
        var selected = model.TrainingLoss(inputs);
        Assert.Equal(full.item<float>(), selected.item<float>(), 6);
        var fullGradients = Gradients(() => full);
        var selectedGradients = Gradients(() => selected);
        for (int i = 0; i < parameters.Count; i++)
            Assert.True(fullGradients[i].allclose(selectedGradients[i], rtol: 1e-4, atol: 1e-7), $"gradient {i} differs");
    }

    /// <summary>The positions the training loss computes are found on the host from the label rows; they must be what
    /// the device computation they replace gives (sort each row's supervised positions first, keep the most any row
    /// has, the flat indices of the supervised ones): rows with padding, gaps, nothing supervised, everything supervised.</summary>
    [Fact]
    public void SupervisedPositionsFromTheHostLabelsEqualTheDeviceComputation()
    {
        using var scope = NewDisposeScope();
        const long I = MultimodalSplice.IgnoreIndex;
        long[][] rows =
        [
            [I, I, I, 7, 8, 9, I, I], [I, 3, I, I, 4, I, 5, I], [I, I, I, I, I, I, I, I], [I, 1, 2, 3, 4, 5, 6, 7],
        ];
        var (queries, kept, targets) = LlavaForCausalLM.SupervisedPositions(rows, CPU);

        var labels = tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, rows[0].Length]);
        using var ignored = I.ToScalar();
        var shifted = labels[.., 1..];
        var supervised = shifted.ne(ignored);
        long count = supervised.sum(1).max().item<long>();
        using var zero = 0L.ToScalar();
        using var width = shifted.shape[1].ToScalar();
        using var one = 1L.ToScalar();
        var columns = arange(zero, width, one, dtype: int64).unsqueeze(0).expand_as(shifted);
        var expectedQueries = where(supervised, columns, columns.Plus(width)).argsort(1)[.., ..(int)Math.Max(count, 1)];
        var expectedKept = supervised.gather(1, expectedQueries).reshape(-1).nonzero().squeeze(1);
        var expectedTargets = shifted.gather(1, expectedQueries).reshape(-1).index_select(0, expectedKept);
        Assert.Equal(expectedQueries.data<long>().ToArray(), queries.data<long>().ToArray());
        Assert.Equal(expectedQueries.shape, queries.shape);
        Assert.Equal(expectedKept.data<long>().ToArray(), kept.data<long>().ToArray());
        Assert.Equal(expectedTargets.data<long>().ToArray(), targets.data<long>().ToArray());
        Assert.Equal(13, targets.numel());

        // Nothing supervised anywhere: one (unused) query per row; rows of one position: none, as the device gave.
        var (noneQueries, noneKept, _) = LlavaForCausalLM.SupervisedPositions([[I, I, I], [I, I, I]], CPU);
        Assert.Equal(new long[] { 2, 1 }, noneQueries.shape);
        Assert.Equal(0, noneKept.numel());
        var (shortQueries, shortKept, _) = LlavaForCausalLM.SupervisedPositions([[I], [I]], CPU);
        Assert.Equal(new long[] { 2, 0 }, shortQueries.shape);
        Assert.Equal(0, shortKept.numel());
    }

    [Fact]
    public void BatchedLeftPaddedGreedyGenerationEqualsOneByOne()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Config());
        long[][] prompts =
            [[1, MultimodalSplice.ImageTokenIndex, 20, 21, 22, 23, 24], [1, MultimodalSplice.ImageTokenIndex, 30], [1, MultimodalSplice.ImageTokenIndex, 40, 41, 42]];
        var images = TinyModels.Images(3);
        var options = new GenerationOptions { MaxNewTokens = 12, StopTokenIds = [] };
        var generator = new ResponseGenerator(model);
        var batched = generator.Generate(prompts, images, options);
        for (int i = 0; i < prompts.Length; i++)
        {
            var single = generator.Generate([prompts[i]], images[i..(i + 1)], options)[0];
            Log($"row {i}: batched {string.Join(",", batched[i].Tokens)} single {string.Join(",", single.Tokens)}");
            Assert.Equal(single.Tokens, batched[i].Tokens);
            Assert.Equal(single.Reason, batched[i].Reason);
        }
    }

    [Fact]
    public void GenerationStopsAtEosAndAtStopStringsButIgnoresEmptyStopStrings()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Config());
        long[] prompt = [1, MultimodalSplice.ImageTokenIndex, 20];
        var images = TinyModels.Images(1);
        var generator = new ResponseGenerator(model, ids => string.Concat(ids.Select(id => $"<{id}>")));
        var free = generator.Generate([prompt], images, new() { MaxNewTokens = 6, StopStrings = [""] })[0];
        Assert.Equal(FinishReason.MaxNewTokens, free.Reason);
        Assert.Equal(6, free.Tokens.Length);

        var eos = generator.Generate([prompt], images, new() { MaxNewTokens = 6, StopTokenIds = [free.Tokens[2]] })[0];
        Assert.Equal(FinishReason.EndOfSequence, eos.Reason);
        Assert.Equal(free.Tokens[..2], eos.Tokens);

        var stop = $"<{free.Tokens[3]}>";
        var stopped = generator.Generate([prompt], images, new() { MaxNewTokens = 6, StopStrings = [stop] })[0];
        Assert.Equal(FinishReason.StopString, stopped.Reason);
        Assert.DoesNotContain(stop, stopped.Text);
        Assert.StartsWith(string.Concat(free.Tokens[..3].Select(id => $"<{id}>")), stopped.Text);
    }

    [Fact]
    public void SamplingIsSeededAndTopPKeepsTheNucleus()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Config());
        long[] prompt = [1, MultimodalSplice.ImageTokenIndex, 20];
        var images = TinyModels.Images(1);
        var generator = new ResponseGenerator(model);
        var options = new GenerationOptions { MaxNewTokens = 8, Temperature = 1.0, TopP = 0.9, Seed = 3 };
        Assert.Equal(generator.Generate([prompt], images, options)[0].Tokens, generator.Generate([prompt], images, options)[0].Tokens);
        // A tiny nucleus keeps only the most likely token: sampling becomes greedy.
        var greedy = generator.Generate([prompt], images, new() { MaxNewTokens = 8 })[0].Tokens;
        Assert.Equal(greedy, generator.Generate([prompt], images, options with { TopP = 1e-6 })[0].Tokens);
    }

    [Fact]
    public void SlidingWindowRestrictsAttentionToTheLastWindowPositions()
    {
        using var scope = NewDisposeScope();
        var mask = AttentionMask.Build(null, 1, 5, 0, slidingWindow: 2, float32, CPU)!;
        var allowed = mask[0, 0].eq(0).to(int32).data<int>().ToArray();
        Assert.Equal([1, 0, 0, 0, 0,
                      1, 1, 0, 0, 0,
                      0, 1, 1, 0, 0,
                      0, 0, 1, 1, 0,
                      0, 0, 0, 1, 1], allowed);
        // A window longer than the sequence changes nothing.
        using var windowed = TinyModels.Create(TinyModels.Config(slidingWindow: 1000));
        using var plain = TinyModels.Create(TinyModels.Config());
        var embeds = randn(1, 6, 32);
        var positions = arange(6, dtype: int64).unsqueeze(0);
        using var _ = no_grad();
        Assert.True(windowed.Forward(embeds, null, positions).Logits.allclose(plain.Forward(embeds, null, positions).Logits));
    }

    [Theory]
    [InlineData("linear", 1)]
    [InlineData("mlp2x_gelu", 2)]
    [InlineData("mlp3x_gelu", 3)]
    [InlineData("identity", 0)]
    public void ProjectorsHaveTheReleasedKeyLayout(string type, int linearLayers)
    {
        using var scope = NewDisposeScope();
        var config = TinyModels.Config(projector: type) with { MmHiddenSize = type == "identity" ? 32 : 16 };
        using var model = TinyModels.Create(config);
        var keys = model.state_dict().Keys.Where(k => k.StartsWith("model.mm_projector")).Order().ToList();
        var expected = type switch
        {
            "linear" => new[] { "model.mm_projector.bias", "model.mm_projector.weight" },
            _ => Enumerable.Range(0, linearLayers).SelectMany(i => new[] { $"model.mm_projector.{2 * i}.bias", $"model.mm_projector.{2 * i}.weight" }).ToArray(),
        };
        Assert.Equal(expected.Order(), keys);
    }

    [Fact]
    public void UnknownProjectorTypeIsAClearError()
    {
        var error = Assert.Throws<ModelConfigException>(() => TinyModels.Create(TinyModels.Config(projector: "resampler")));
        Assert.Contains("resampler", error.Message);
    }

    [Fact]
    public void UninitializedModelHasEveryParameterOfTheRegularOneAtTheTargetPlacement()
    {
        var config = TinyModels.Config();
        using var regular = new LlavaForCausalLM(config, new ParameterPlacement(ScalarType.BFloat16, CPU));
        using var uninitialized = ParameterMaterialization.Uninitialized(config, new ParameterPlacement(ScalarType.BFloat16, CPU));
        var expected = regular.named_parameters().Select(p => (p.name, Shape: string.Join(",", p.parameter.shape), p.parameter.dtype,
            p.parameter.device_type, p.parameter.requires_grad)).ToList();
        var actual = uninitialized.named_parameters().Select(p => (p.name, Shape: string.Join(",", p.parameter.shape), p.parameter.dtype,
            p.parameter.device_type, p.parameter.requires_grad)).ToList();
        Assert.Equal(expected, actual);
        // The modules compute with the new storage (the fields, not only the registry, were swapped).
        using (no_grad())
            foreach (var parameter in uninitialized.parameters()) parameter.zero_();
        using var inputs = uninitialized.PrepareInputs([[1, 2, 3]], null);
        var output = uninitialized.Forward(inputs);
        Assert.Equal(0f, output.Logits.abs().max().ToSingle());
    }

    [Fact]
    public void ReleasedSevenBillionConfigurationHasTheReleasedNamesShapesAndParameterCount()
    {
        var config = LlavaConfig.LlavaMedV15Mistral7B;
        // On the meta device: shapes without memory.
        using var model = new LlavaForCausalLM(config, new ParameterPlacement(float32, META));
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        long Count(Func<string, bool> which) => parameters.Where(p => which(p.Key)).Sum(p => p.Value.Aggregate(1L, (a, b) => a * b));
        long tower = Count(n => n.StartsWith(CheckpointLoader.TowerPrefix));
        long projector = Count(n => n.StartsWith("model.mm_projector"));
        long total = Count(_ => true);
        Log($"7B: total {total:N0}, mistral {total - tower - projector:N0}, clip {tower:N0}, projector {projector:N0}");
        Assert.Equal(7_566_219_264, total);
        Assert.Equal(303_507_456, tower);
        Assert.Equal(20_979_712, projector);
        Assert.Equal(7_241_732_096, total - tower - projector);
        Assert.Equal([32000L, 4096], parameters["model.embed_tokens.weight"]);
        Assert.Equal([1024L, 4096], parameters["model.layers.31.self_attn.k_proj.weight"]);
        Assert.Equal([14336L, 4096], parameters["model.layers.0.mlp.gate_proj.weight"]);
        Assert.Equal([4096L, 1024], parameters["model.mm_projector.0.weight"]);
        Assert.Equal([4096L, 4096], parameters["model.mm_projector.2.weight"]);
        Assert.Equal([577L, 1024], parameters[CheckpointLoader.TowerPrefix + "vision_model.embeddings.position_embedding.weight"]);
        Assert.Equal([1024L, 3, 14, 14], parameters[CheckpointLoader.TowerPrefix + "vision_model.embeddings.patch_embedding.weight"]);
        Assert.Contains(CheckpointLoader.TowerPrefix + "vision_model.pre_layrnorm.weight", parameters.Keys);
        Assert.Contains(CheckpointLoader.TowerPrefix + "vision_model.encoder.layers.23.mlp.fc2.bias", parameters.Keys);
        Assert.Equal([32000L, 4096], parameters["lm_head.weight"]);
        Assert.Equal(32 * 9 + 2 + 1 + 4 + 7 + 24 * 16, parameters.Count);
    }
}

/// <summary>Tests that measure process-wide state (the resident size) run alone,
/// with no other test in parallel.</summary>
[CollectionDefinition(nameof(ProcessWideTests), DisableParallelization = true)]
public sealed class ProcessWideTestsCollection;

[Collection(nameof(ProcessWideTests))]
public sealed class ProcessWideTests
{
    static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    [Fact]
    [Trait("Category", "Slow")]
    public void ThousandForwardPassesKeepAFlatResidentSize()
    {
        using var model = TinyModels.Create(TinyModels.Config());
        long[] ids = [1, MultimodalSplice.ImageTokenIndex, 20, 21, 22];
        var images = TinyModels.Images(1).DetachFromDisposeScope();
        long ResidentBytes() { using var p = Process.GetCurrentProcess(); p.Refresh(); return p.WorkingSet64; }
        void Steps(int n)
        {
            for (int i = 0; i < n; i++)
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                using var inputs = model.PrepareInputs([ids], images);
                model.Forward(inputs);
            }
        }
        Steps(100); // warm-up: allocator pools and JIT
        GC.Collect();
        long before = ResidentBytes();
        Steps(1000);
        GC.Collect();
        long growth = ResidentBytes() - before;
        Log($"resident size growth over 1,000 forward passes: {growth / 1024.0 / 1024.0:F1} MiB");
        Assert.True(growth < 32L * 1024 * 1024, $"resident size grew by {growth / 1024 / 1024} MiB");
        images.Dispose();
    }
}
