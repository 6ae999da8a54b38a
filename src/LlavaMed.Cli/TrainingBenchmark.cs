using System.Diagnostics;
using LlavaMed.Checkpoints;
using LlavaMed.Data.Batching;
using LlavaMed.Models;
using LlavaMed.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlavaMed.Cli;

/// <summary>
/// <c>llava-med bench train</c>'s measurement: a random model of any LLaVA shape trained on one fixed batch of
/// B images + T random text tokens per row, through the stage trainer's own optimiser step
/// (<see cref="StageTrainer.OptimizerStep"/>: forward, backward, global-norm clipping, AdamW) with what stages 2
/// and 3 train (projector and language model; the vision tower is frozen). The first text token is not supervised,
/// so each row supervises T - 1 next tokens, as the PyTorch peer in <c>../shared/bench</c> does. AdamW: lr 1e-3,
/// weight decay 0.01, as the peer. <see cref="Options.TrainVisionTower"/> trains the tower too (its own group), as
/// the peer trains every weight: the fair comparison with it.
/// </summary>
public static class TrainingBenchmark
{
    public sealed record Options(LlavaConfig Config, int BatchSize, int TextTokens, ScalarType Dtype, int Steps, int WarmupSteps,
                                 double MaxGradNorm = 1.0, ulong Seed = 0, bool TrainVisionTower = false);

    public sealed record Result(long Parameters, long TrainedParameters, long Positions, double StepFlop, double MedianSeconds,
                                double MinSeconds, double MaxSeconds, double FirstLoss, double LastLoss);

    public static Result Run(Options options) => Run([options])[0];

    /// <summary>Several runs (e.g. one per dtype) timed in turn, one step of each per round, so that the machine's
    /// drift (other jobs, clock changes) falls on all of them alike: their medians compare side by side.</summary>
    public static IReadOnlyList<Result> Run(IReadOnlyList<Options> runs)
    {
        var trials = new List<Trial>();
        try
        {
            foreach (var options in runs) trials.Add(new Trial(options));
            int warmup = runs.Max(o => o.WarmupSteps), steps = runs.Max(o => o.Steps);
            for (int step = 0; step < warmup + steps; step++)
                foreach (var trial in trials)
                    if (step >= warmup - trial.Options.WarmupSteps && step < warmup + trial.Options.Steps)
                        trial.Step(timed: step >= warmup);
            return [.. trials.Select(t => t.Result())];
        }
        finally
        {
            foreach (var trial in trials) trial.Dispose();
        }
    }

    /// <summary>One run's random model, optimiser and batch, stepped by <see cref="StageTrainer.OptimizerStep"/>.</summary>
    sealed class Trial : IDisposable
    {
        readonly LlavaForCausalLM model;
        readonly AdamWOptimizer optimizer;
        readonly TrainingBatch batch;
        readonly TrainingStep trainingStep;
        readonly List<ParameterGroup> groups;
        readonly List<double> seconds = [];
        double firstLoss = double.NaN, lastLoss = double.NaN;
        long positions, imagePositions;

        public Options Options { get; }

        public Trial(Options options)
        {
            if (options.BatchSize < 1) throw new ArgumentException("--batch-size must be at least 1");
            if (options.TextTokens < 2) throw new ArgumentException("--text-tokens must be at least 2 (one supervised next token)");
            if (options.Steps < 1) throw new ArgumentException("--steps must be at least 1");
            if (options.WarmupSteps < 0) throw new ArgumentException("--warmup must not be negative");
            if (options.Config.UsesImagePatchTokens)
                throw new ArgumentException("bench train measures v1.5-style configs (one image placeholder per row), not v1.0's <im_patch> tokens");
            Options = options;
            batch = RandomBatch(options);
            model = new LlavaForCausalLM(options.Config, new ParameterPlacement(options.Dtype, CPU));
            WeightInitialization.Initialize(model, options.Seed);
            var projector = new List<Parameter>();
            var language = new List<Parameter>();
            var tower = new List<Parameter>();
            foreach (var (name, parameter) in model.named_parameters())
            {
                bool inTower = name.StartsWith(CheckpointLoader.TowerPrefix, StringComparison.Ordinal);
                parameter.requires_grad = (inTower && options.TrainVisionTower) || StageTrainer.Trains(name, TrainableSet.ProjectorAndLanguageModel, lora: false);
                if (parameter.requires_grad) (inTower ? tower : StageTrainer.IsProjector(name) ? projector : language).Add(parameter);
            }
            groups = [new(projector, 1e-3), new(language, 1e-3)];
            if (tower.Count > 0) groups.Add(new ParameterGroup(tower, 1e-3));
            optimizer = new AdamWOptimizer(groups, weightDecay: 0.01);
            trainingStep = new TrainingStep(groups, optimizer, sharded: null, options.MaxGradNorm);
            model.train();
        }

        public void Step(bool timed)
        {
            var clock = Stopwatch.StartNew();
            (lastLoss, _, positions, imagePositions) = StageTrainer.OptimizerStep(model, trainingStep, [batch]);
            if (timed) seconds.Add(clock.Elapsed.TotalSeconds);
            if (double.IsNaN(firstLoss)) firstLoss = lastLoss;
        }

        public Result Result()
        {
            var config = Options.Config;
            long visionParameters = model.Model.VisionTower.parameters().Sum(p => p.numel());
            long languageMatmulParameters = model.parameters().Sum(p => p.numel()) - visionParameters
                                            - (config.TieWordEmbeddings ? 0 : model.Model.EmbedTokens.weight!.numel());
            var sorted = seconds.Order().ToList();
            double median = sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
            double stepFlop = TrainingFlops.Step(languageMatmulParameters, positions, languageWeightsTrained: true, gradientCheckpointing: false,
                                                 visionParameters, imagePositions, Options.TrainVisionTower);
            return new Result(model.parameters().Sum(p => p.numel()), groups.Sum(g => g.Parameters.Sum(p => p.numel())), positions, stepFlop,
                              median, sorted[0], sorted[^1], firstLoss, lastLoss);
        }

        public void Dispose()
        {
            batch.Dispose();
            optimizer.Dispose();
            model.Dispose();
        }
    }

    /// <summary>B rows of [image placeholder, T random token ids]; labels supervise every text token but the first
    /// (the peer predicts tokens 1..T-1 from the text alone). Pixels are normal(0, 1) in float32, as the loader's.</summary>
    static TrainingBatch RandomBatch(Options options)
    {
        var random = new Random((int)options.Seed);
        var inputIds = new List<long[]>();
        var labels = new List<long[]>();
        for (int row = 0; row < options.BatchSize; row++)
        {
            var text = Enumerable.Range(0, options.TextTokens).Select(_ => (long)random.Next(options.Config.VocabSize)).ToArray();
            inputIds.Add([MultimodalSplice.ImageTokenIndex, .. text]);
            labels.Add([MultimodalSplice.IgnoreIndex, MultimodalSplice.IgnoreIndex, .. text[1..]]);
        }
        using var generator = new Generator(options.Seed);
        var vision = options.Config.Vision;
        var pixels = randn([options.BatchSize, 3, vision.ImageSize, vision.ImageSize], ScalarType.Float32, generator: generator);
        return new TrainingBatch(0, 0, [.. Enumerable.Range(0, options.BatchSize).Select(i => $"random-{i}")], inputIds, labels, pixels);
    }
}
