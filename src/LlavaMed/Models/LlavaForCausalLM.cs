using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LlavaMed.Models;

/// <summary>Logits, the shifted cross-entropy loss when labels were given, and optionally all decoder hidden
/// states.</summary>
public sealed record CausalLMOutput(Tensor Logits, Tensor? Loss, IReadOnlyList<Tensor>? HiddenStates);

/// <summary>LLaVA-Med's <c>LlavaMistralForCausalLM</c> (v1.5) and <c>LlavaLlamaForCausalLM</c> (v1.0): keys
/// <c>model.*</c> and <c>lm_head.weight</c> (absent when embeddings are tied).</summary>
public sealed class LlavaForCausalLM : Module
{
    private readonly LlavaModel model;
    private readonly LinearLayer? lm_head;

    /// <param name="placement">dtype and device of the parameters; float32 on the CPU when omitted.</param>
    public LlavaForCausalLM(LlavaConfig config, ParameterPlacement? placement = null) : base(nameof(LlavaForCausalLM))
    {
        placement ??= ParameterPlacement.CpuFloat32;
        Config = config;
        model = new LlavaModel(config, placement);
        lm_head = config.TieWordEmbeddings ? null : new LinearLayer(config.HiddenSize, config.VocabSize, hasBias: false, placement);
        RegisterComponents();
    }

    public LlavaConfig Config { get; }

    /// <summary>Parameters of <paramref name="config"/>'s model, counted on the meta device (no memory).</summary>
    public static long CountParameters(LlavaConfig config)
    {
        using var meta = new LlavaForCausalLM(config, new ParameterPlacement(float32, META));
        return meta.parameters().Sum(p => p.numel());
    }
    public LlavaModel Model => model;

    /// <summary>v1.0's image-token ids (from the tokenizer's added tokens); required when
    /// <see cref="LlavaConfig.UsesImagePatchTokens"/>.</summary>
    public ImagePatchTokenIds? ImagePatchTokens { get; set; }

    /// <summary>Projected image features [images, N, D] for pixel values [images, 3, H, W].</summary>
    public Tensor EncodeImages(Tensor pixelValues)
    {
        using var scope = NewDisposeScope();
        var selected = model.VisionTower.SelectFeatures(pixelValues);
        return model.MmProjector.forward(selected.to(ParameterDtype)).MoveToOuterDisposeScope();
    }

    /// <summary>Gradient checkpointing of the decoder's and the vision tower's layers (null: off).</summary>
    public ActivationCheckpointing? GradientCheckpointing
    {
        get => model.Checkpointing;
        set
        {
            foreach (var layers in modules().OfType<ICheckpointedLayers>()) layers.Checkpointing = value;
        }
    }

    public ScalarType ParameterDtype => model.EmbedTokens.weight!.dtype;
    public Device Device => model.EmbedTokens.weight!.device;

    /// <summary>Token ids (unpadded rows; v1.5 rows hold -200 placeholders, v1.0 rows hold image tokens) and
    /// images to decoder inputs; see <see cref="MultimodalSplice"/>. Truncation uses tokenizer_model_max_length.
    /// <paramref name="segments"/> marks packed rows (<see cref="PackedSegments"/>).</summary>
    public MultimodalInputs PrepareInputs(IReadOnlyList<long[]> inputIds, Tensor? pixelValues,
                                          IReadOnlyList<long[]>? labels = null, PaddingSide? side = null,
                                          IReadOnlyList<long[]>? segments = null)
    {
        using var scope = NewDisposeScope();
        var features = pixelValues is null ? null : EncodeImages(pixelValues);
        var padding = side ?? (Config.TokenizerPaddingSide == "left" ? PaddingSide.Left : PaddingSide.Right);
        Tensor Embed(Tensor ids) => model.EmbedTokens.forward(ids.to(Device));
        var inputs = Config.UsesImagePatchTokens
            ? MultimodalSplice.ReplacePatchTokens(inputIds, labels, features, Embed,
                ImagePatchTokens ?? throw new InvalidOperationException(
                    "this v1.0 model needs ImagePatchTokens (the tokenizer's <im_patch>/<im_start>/<im_end> ids)"),
                Config.MmUseImStartEnd, Config.TokenizerModelMaxLength, padding, segments)
            : MultimodalSplice.SplicePlaceholders(inputIds, labels, features, Embed, Config.TokenizerModelMaxLength, padding, segments);
        inputs.InputsEmbeds.MoveToOuterDisposeScope();
        inputs.AttentionMask.MoveToOuterDisposeScope();
        inputs.PositionIds.MoveToOuterDisposeScope();
        inputs.Labels?.MoveToOuterDisposeScope();
        return inputs;
    }

    /// <summary>Decoder forward over prepared inputs. With a cache, <paramref name="attentionMask"/> covers cached
    /// and new positions. The loss is the mean cross-entropy of position t predicting label t+1, ignoring -100.</summary>
    public CausalLMOutput Forward(Tensor inputsEmbeds, Tensor? attentionMask, Tensor positionIds, Tensor? labels = null,
                                  KeyValueCache? cache = null, bool outputHiddenStates = false)
    {
        using var scope = NewDisposeScope();
        var (hidden, states) = model.Forward(inputsEmbeds, attentionMask, positionIds, cache, outputHiddenStates);
        var logits = lm_head is null
            ? ReducedPrecisionProducts.Linear(hidden, model.EmbedTokens.weight!)
            : lm_head.forward(hidden);
        Tensor? loss = null;
        if (labels is not null)
        {
            long vocab = logits.shape[^1];
            var predicted = logits[.., ..^1].to(float32).reshape(-1, vocab);
            var targets = labels[.., 1..].reshape(-1).to(predicted.device);
            loss = functional.cross_entropy(predicted, targets, ignore_index: MultimodalSplice.IgnoreIndex)
                .MoveToOuterDisposeScope();
        }
        if (states is not null)
            foreach (var state in states) state.MoveToOuterDisposeScope();
        return new CausalLMOutput(logits.MoveToOuterDisposeScope(), loss, states);
    }

    /// <summary>The training loss of <see cref="Forward(MultimodalInputs, KeyValueCache?, bool)"/> (mean cross-entropy
    /// over the supervised next tokens) computing only what that loss reads: the last decoder layer, the final norm and
    /// the head run at the positions whose next token is supervised (each row's, in order, padded to the longest row
    /// with positions the loss skips). A VQA sample supervises a few answer tokens out of ~50, and a caption none of
    /// the image's positions.</summary>
    public Tensor TrainingLoss(MultimodalInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs.Labels);
        using var scope = NewDisposeScope();
        var (queries, kept, targets) = SupervisedPositions(inputs.HostLabels ?? RowsOf(inputs.Labels), inputs.InputsEmbeds.device);
        var (hidden, _) = model.Forward(inputs.InputsEmbeds, inputs.AttentionMask, inputs.PositionIds, null, false, queries, inputs.MaskLayout);
        var states = hidden.reshape(-1, hidden.shape[^1]).index_select(0, kept);
        var logits = lm_head is null ? ReducedPrecisionProducts.Linear(states, model.EmbedTokens.weight!) : lm_head.forward(states);
        return functional.cross_entropy(logits.to(float32), targets).MoveToOuterDisposeScope();
    }

    /// <summary>Where <see cref="TrainingLoss"/> computes, from the padded label rows on the host (no read-back from the
    /// device): [B, Q] query positions (each row's positions whose next token is supervised, in order, then its other
    /// positions, Q = the most any row has, at least 1), the flat indices of the supervised ones among the B x Q, and
    /// their target tokens, on <paramref name="device"/>.</summary>
    public static (Tensor Queries, Tensor Kept, Tensor Targets) SupervisedPositions(IReadOnlyList<long[]> labelRows, Device device)
    {
        int batch = labelRows.Count, width = labelRows.Max(r => r.Length) - 1; // position t predicts label t+1
        var supervisedPerRow = labelRows.Select(row => Enumerable.Range(0, width).Where(t => row[t + 1] != MultimodalSplice.IgnoreIndex).ToArray()).ToArray();
        // At least one query per row (as many as there are positions): a row-less last layer has no shape to give.
        int count = Math.Min(width, Math.Max(1, supervisedPerRow.Max(p => p.Length)));
        var queries = new long[batch * count];
        var kept = new List<long>();
        var targets = new List<long>();
        for (int row = 0; row < batch; row++)
        {
            var supervised = supervisedPerRow[row];
            var order = supervised.Concat(Enumerable.Range(0, width).Where(t => labelRows[row][t + 1] == MultimodalSplice.IgnoreIndex)).Take(count).ToArray();
            for (int j = 0; j < count; j++) queries[row * count + j] = order[j];
            for (int j = 0; j < supervised.Length; j++)
            {
                kept.Add(row * count + j);
                targets.Add(labelRows[row][supervised[j] + 1]);
            }
        }
        return (tensor(queries, [batch, count], device: device), tensor(kept.ToArray(), ScalarType.Int64, device), tensor(targets.ToArray(), ScalarType.Int64, device));
    }

    static long[][] RowsOf(Tensor labels)
    {
        var values = labels.cpu().data<long>().ToArray();
        return MultimodalSplice.Rows(values, (int)labels.shape[0], (int)labels.shape[1]);
    }

    public CausalLMOutput Forward(MultimodalInputs inputs, KeyValueCache? cache = null, bool outputHiddenStates = false) =>
        Forward(inputs.InputsEmbeds, inputs.AttentionMask, inputs.PositionIds, inputs.Labels, cache, outputHiddenStates);

    /// <summary>Embeddings of plain token ids [B, T] (the decode step of generation, which has no images).</summary>
    public Tensor EmbedTokens(Tensor ids) => model.EmbedTokens.forward(ids.to(Device));
}
