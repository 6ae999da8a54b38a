using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LlavaMed.Models;

/// <summary>LLaVA's <c>LlavaMistralModel</c> / <c>LlavaLlamaModel</c>: the decoder stack plus the vision tower and
/// projector (keys <c>model.embed_tokens</c>, <c>model.layers.{i}</c>, <c>model.norm</c>,
/// <c>model.mm_projector</c>, <c>model.vision_tower.vision_tower</c>).</summary>
public sealed class LlavaModel : Module, ICheckpointedLayers
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<DecoderLayer> layers;
    private readonly RmsNorm norm;
    private readonly Module<Tensor, Tensor> mm_projector;
    private readonly VisionTower vision_tower;
    private readonly LlavaConfig config;

    public LlavaModel(LlavaConfig config, ParameterPlacement placement) : base(nameof(LlavaModel))
    {
        this.config = config;
        embed_tokens = Embedding(config.VocabSize, config.HiddenSize, device: placement.Device, dtype: placement.Dtype);
        layers = new ModuleList<DecoderLayer>(
            Enumerable.Range(0, config.NumHiddenLayers).Select(i => new DecoderLayer(config, i, placement)).ToArray());
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps, placement);
        mm_projector = Projector.Create(config.MmProjectorType, config.MmHiddenSize, config.HiddenSize, placement);
        vision_tower = new VisionTower(config, placement);
        RegisterComponents();
    }

    public Embedding EmbedTokens => embed_tokens;
    public ActivationCheckpointing? Checkpointing { get; set; }
    public VisionTower VisionTower => vision_tower;
    public Module<Tensor, Tensor> MmProjector => mm_projector;

    /// <summary>Runs the decoder stack. Hidden states, when asked for, follow Hugging Face: index 0 is the input,
    /// index i the output of layer i-1, and the last entry is after the final norm. With <paramref name="outputQueries"/>
    /// ([B, Q] positions of each row, as training's loss needs them) the last layer computes only those positions (its
    /// keys and values still cover every position) and the result is [B, Q, D]: in a two-layer model the image
    /// positions' last attention and MLP are a third of the decoder's work, and no loss reads them.</summary>
    public (Tensor Hidden, IReadOnlyList<Tensor>? HiddenStates) Forward(Tensor inputsEmbeds, Tensor? attentionMask,
        Tensor positionIds, KeyValueCache? cache, bool outputHiddenStates, Tensor? outputQueries = null, AttentionMask.Layout? maskLayout = null)
    {
        if (outputQueries is not null && (cache is not null || outputHiddenStates))
            throw new ArgumentException("output queries are a training forward's: no cache, no hidden states");
        if (maskLayout is not null && cache is not null)
            throw new ArgumentException("a mask layout describes a prompt's own mask, not one that also covers a cache");
        long batch = inputsEmbeds.shape[0], length = inputsEmbeds.shape[1];
        long past = cache?.Length ?? 0;
        var (cos, sin) = RotaryEmbedding.CosSin(positionIds, config.HeadDim, config.RopeTheta);
        // In the model's dtype once, as Hugging Face's rotary module returns them, not once per layer and projection.
        (cos, sin) = (cos.to(inputsEmbeds.dtype), sin.to(inputsEmbeds.dtype));
        using var additiveMask = AttentionMask.Build(attentionMask, batch, length, past, config.SlidingWindow,
                                                     inputsEmbeds.dtype, inputsEmbeds.device, maskLayout);
        using var queryMask = outputQueries is null ? null : AttentionMask.QueryRows(additiveMask, outputQueries, length, inputsEmbeds.dtype);
        var states = outputHiddenStates ? new List<Tensor> { inputsEmbeds } : null;
        var hidden = inputsEmbeds;
        for (int i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            var queries = i == layers.Count - 1 ? outputQueries : null; // only the last layer narrows to the queries
            hidden = cache is not null
                ? layer.Forward(hidden, cos, sin, additiveMask, cache)
                : ActivationCheckpointing.Run(Checkpointing, layer, x => layer.Forward(x[0]!, x[1]!, x[2]!, x[3], null, x[4]),
                                              hidden, cos, sin, queries is null ? additiveMask : queryMask, queries);
            states?.Add(hidden);
        }
        hidden = norm.forward(hidden);
        if (states is not null) states[^1] = hidden;
        return (hidden, states);
    }
}
