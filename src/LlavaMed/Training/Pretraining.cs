using LlavaMed.Data.Batching;
using LlavaMed.Images;
using LlavaMed.Models;
using LlavaMed.Text;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlavaMed.Training;

/// <summary>The hyper-parameters of one pretraining loop (the values are the curriculum's presets,
/// <c>CurriculumPresets</c>): AdamW with weight decay, cosine schedule with warm-up, global-norm clipping.</summary>
public sealed record PretrainingSettings(int Epochs, int BatchSize, double LearningRate, double WeightDecay, double MaxGradNorm, double WarmupRatio);

/// <summary>An image and the caption written for it.</summary>
public sealed record ImageCaption(string ImagePath, string Caption);

/// <summary>The two pretraining objectives of the general starting model, which are not LLaVA stages: the vision
/// tower trained to predict the words of its image's caption, and the language model trained on text alone. Each
/// optimiser step is a <see cref="TrainingStep"/>, as in <see cref="StageTrainer"/>. Both are seeded (shuffles from <see cref="SampleOrder.Shuffle"/>, the head's weights from a private generator)
/// and run every step in a dispose scope, so the same seed gives the same weights.</summary>
public static class Pretraining
{
    /// <summary>The per-epoch random stream of the tower's image augmentation (1 and 2 are <see cref="SampleOrder"/>'s).</summary>
    const int AugmentationStream = 3;

    /// <summary>Caption-word pretraining of the vision tower (the bag-of-words objective CLIP's authors compared
    /// their contrastive loss with, and VirTex-style caption supervision): a linear head over the flattened patch
    /// features (so where something is matters, not only what) predicts which vocabulary pieces the caption holds,
    /// with a multi-label cross-entropy. Small batches of near-identical synthetic captions make a contrastive loss
    /// mostly false negatives; predicting the words needs no negatives. The head is thrown away afterwards.
    /// A few thousand images are memorised within tens of epochs; <paramref name="augmentation"/> (drawn from
    /// a random stream of (seed, epoch) in batch order, so still deterministic) keeps the tower learning what the
    /// captions say instead.</summary>
    public static void VisionTower(LlavaForCausalLM model, ClipImageProcessor processor, LlavaTokenizer tokenizer, IReadOnlyList<ImageCaption> pairs,
                                   PretrainingSettings settings, int seed, PixelAugmentation augmentation, IProgress<TrainingProgress>? progress = null)
    {
        var tower = model.Model.VisionTower;
        var vision = model.Config.Vision;
        var pixels = new float[pairs.Count][];
        Parallel.For(0, pairs.Count, i => pixels[i] = processor.Preprocess(RgbImage.Load(pairs[i].ImagePath)));
        var targets = pairs.Select(p => tokenizer.Encode(p.Caption, addBos: false).Where(id => !tokenizer.IsSpecial(id)).Distinct().ToArray()).ToList();

        using var head = nn.Linear(vision.NumPatches * vision.HiddenSize, tokenizer.VocabularySize);
        WeightInitialization.Initialize(head, (ulong)seed + 17);
        foreach (var (_, parameter) in model.named_parameters()) parameter.requires_grad = false;
        var parameters = tower.parameters().Concat(head.parameters()).ToList();
        foreach (var parameter in parameters) parameter.requires_grad = true;
        using var optimizer = new AdamWOptimizer([new ParameterGroup(parameters, settings.LearningRate)], weightDecay: settings.WeightDecay);
        tower.train();
        var side = processor.Config.CropHeight;
        Random? augmentationRandom = null;
        int augmentationEpoch = -1;
        Steps("vision", optimizer, pairs.Count, settings, seed, progress, (epoch, batch) =>
        {
            if (epoch != augmentationEpoch) (augmentationRandom, augmentationEpoch) = (new Random(SampleOrder.StreamSeed(seed, epoch, stream: AugmentationStream)), epoch);
            // The draws in batch order from the epoch's stream, then each image transformed into the batch tensor.
            var draws = batch.Select(_ => augmentation.Draw(side, augmentationRandom!)).ToArray();
            var input = ClipImageProcessor.ToBatchTensor(batch.Length, side, side, (row, image) => augmentation.Apply(pixels[batch[row]], side, draws[row], image));
            var logits = head.forward(tower.SelectFeatures(input).flatten(1));
            var multiHot = new float[batch.Length * tokenizer.VocabularySize];
            for (int row = 0; row < batch.Length; row++)
                foreach (var id in targets[batch[row]]) multiHot[row * tokenizer.VocabularySize + id] = 1f;
            var target = tensor(multiHot, [batch.Length, tokenizer.VocabularySize], device: logits.device);
            using var rows = batch.Length.ToScalar(); // explicit Scalars: see TensorArithmetic
            return nn.functional.binary_cross_entropy_with_logits(logits, target, reduction: nn.Reduction.Sum).div(rows);
        });
        tower.eval();
        foreach (var (_, parameter) in model.named_parameters()) parameter.requires_grad = true;
    }

    /// <summary>Next-token pretraining of the language model (embeddings, decoder, head) on plain text: each text is
    /// BOS + pieces + EOS, cut at <paramref name="maxLength"/>; the tower and projector are untouched.</summary>
    public static void LanguageModel(LlavaForCausalLM model, LlavaTokenizer tokenizer, IReadOnlyList<string> texts, PretrainingSettings settings,
                                     int maxLength, int seed, IProgress<TrainingProgress>? progress = null)
    {
        var rows = texts.Select(t => tokenizer.Encode(t, addBos: true, addEos: true).Take(maxLength).Select(id => (long)id).ToArray()).ToList();
        var parameters = new List<Parameter>();
        foreach (var (name, parameter) in model.named_parameters())
        {
            bool trains = !name.StartsWith("model.vision_tower", StringComparison.Ordinal) && !name.StartsWith("model.mm_projector", StringComparison.Ordinal);
            parameter.requires_grad = trains;
            if (trains) parameters.Add(parameter);
        }
        using var optimizer = new AdamWOptimizer([new ParameterGroup(parameters, settings.LearningRate)], weightDecay: settings.WeightDecay);
        model.train();
        Steps("language", optimizer, rows.Count, settings, seed, progress, (_, batch) =>
        {
            var ids = batch.Select(i => rows[i]).ToList();
            // No using: the step's dispose scope frees the inputs after backward.
            return model.Forward(model.PrepareInputs(ids, null, ids, PaddingSide.Right)).Loss!;
        });
        model.eval();
        foreach (var (_, parameter) in model.named_parameters()) parameter.requires_grad = true;
    }

    /// <summary>The shared loop of both pretraining phases: seeded batches per epoch, cosine schedule with warm-up,
    /// clipping, each step one <see cref="TrainingStep"/> (one micro-batch of weight 1).</summary>
    static void Steps(string phase, AdamWOptimizer optimizer, int count, PretrainingSettings settings, int seed,
                      IProgress<TrainingProgress>? progress, Func<int, int[], Tensor> lossOf)
    {
        var trainingStep = new TrainingStep(optimizer.Groups, optimizer, sharded: null, settings.MaxGradNorm);
        int total = (count + settings.BatchSize - 1) / settings.BatchSize * settings.Epochs, step = 0;
        var warmup = LearningRateSchedule.WarmupSteps(total, settings.WarmupRatio);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int epoch = 0; epoch < settings.Epochs; epoch++)
            foreach (var batch in SampleOrder.Shuffle(count, seed, epoch).Chunk(settings.BatchSize))
            {
                var lr = settings.LearningRate * LearningRateSchedule.CosineWithWarmup(step, total, warmup);
                foreach (var group in optimizer.Groups) group.LearningRate = lr;
                var (loss, _) = trainingStep.Run([batch], weight: 1, batch.Length, b => new MicroBatchLoss(lossOf(epoch, b), 1));
                step++;
                var elapsed = clock.Elapsed;
                progress?.Report(new TrainingProgress(phase, epoch, step, total, loss, lr, step * (double)settings.BatchSize / Math.Max(elapsed.TotalSeconds, 1e-9),
                                                      elapsed, elapsed / step * (total - step)));
            }
    }
}
