using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LlavaMed.Models;

// Hugging Face CLIPVisionModel, module names equal to its state-dict keys (vision_model.embeddings.*, ...).

/// <summary><c>CLIPVisionModel</c>: holds <c>vision_model</c>, so its keys start with <c>vision_model.</c>.</summary>
public sealed class ClipVisionModel : Module
{
    private readonly ClipVisionTransformer vision_model;

    public ClipVisionModel(ClipVisionConfig config, ParameterPlacement placement) : base(nameof(ClipVisionModel))
    {
        vision_model = new ClipVisionTransformer(config, placement);
        RegisterComponents();
    }

    /// <summary>All hidden states: index 0 is <c>pre_layrnorm(embeddings)</c>, index i the output of encoder
    /// layer i. <c>post_layernorm</c> is not applied: LLaVA never uses it.</summary>
    public IReadOnlyList<Tensor> HiddenStates(Tensor pixelValues) => vision_model.HiddenStates(pixelValues);
}

public sealed class ClipVisionTransformer : Module
{
    private readonly ClipVisionEmbeddings embeddings;
    private readonly LayerNorm pre_layrnorm; // sic: Hugging Face's spelling, kept so keys match
    private readonly ClipEncoder encoder;
    private readonly LayerNorm post_layernorm;

    public ClipVisionTransformer(ClipVisionConfig config, ParameterPlacement placement) : base(nameof(ClipVisionTransformer))
    {
        embeddings = new ClipVisionEmbeddings(config, placement);
        pre_layrnorm = LayerNorm(config.HiddenSize, config.LayerNormEps, device: placement.Device, dtype: placement.Dtype);
        encoder = new ClipEncoder(config, placement);
        post_layernorm = LayerNorm(config.HiddenSize, config.LayerNormEps, device: placement.Device, dtype: placement.Dtype);
        RegisterComponents();
    }

    public IReadOnlyList<Tensor> HiddenStates(Tensor pixelValues)
    {
        var hidden = pre_layrnorm.forward(embeddings.forward(pixelValues));
        return encoder.HiddenStates(hidden);
    }
}

public sealed class ClipVisionEmbeddings : Module<Tensor, Tensor>
{
    private Parameter class_embedding;
    private readonly Conv2d patch_embedding;
    private readonly Embedding position_embedding;

    public ClipVisionEmbeddings(ClipVisionConfig config, ParameterPlacement placement) : base(nameof(ClipVisionEmbeddings))
    {
        class_embedding = Parameter(randn(config.HiddenSize, dtype: placement.Dtype, device: placement.Device));
        patch_embedding = Conv2d(config.NumChannels, config.HiddenSize, config.PatchSize, stride: config.PatchSize, bias: false, device: placement.Device, dtype: placement.Dtype);
        position_embedding = Embedding(config.NumPositions, config.HiddenSize, device: placement.Device, dtype: placement.Dtype);
        RegisterComponents();
    }

    /// <summary>Swaps the class embedding for <paramref name="replacement"/> (see <see cref="ParameterMaterialization"/>).</summary>
    internal void ReplaceClassEmbedding(Parameter replacement)
    {
        class_embedding.Dispose();
        class_embedding = replacement;
        ConditionallyRegisterParameter(nameof(class_embedding), replacement);
    }

    public override Tensor forward(Tensor pixelValues)
    {
        using var scope = NewDisposeScope();
        long batch = pixelValues.shape[0];
        var patches = patch_embedding.forward(pixelValues.to(patch_embedding.weight!.dtype, patch_embedding.weight.device)) // [B, D, g, g]
            .flatten(2).transpose(1, 2); // [B, g*g, D]
        var cls = class_embedding.expand(batch, 1, -1);
        var withCls = cat([cls, patches], 1);
        return withCls.Plus(position_embedding.weight!.unsqueeze(0)).MoveToOuterDisposeScope();
    }
}

public sealed class ClipEncoder : Module, ICheckpointedLayers
{
    private readonly ModuleList<ClipEncoderLayer> layers;

    public ClipEncoder(ClipVisionConfig config, ParameterPlacement placement) : base(nameof(ClipEncoder))
    {
        layers = new ModuleList<ClipEncoderLayer>(
            Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new ClipEncoderLayer(config, placement)).ToArray());
        RegisterComponents();
    }

    public ActivationCheckpointing? Checkpointing { get; set; }

    public IReadOnlyList<Tensor> HiddenStates(Tensor hidden)
    {
        var states = new List<Tensor> { hidden };
        foreach (var layer in layers)
            states.Add(hidden = ActivationCheckpointing.Run(Checkpointing, layer, x => layer.forward(x[0]!), hidden));
        return states;
    }
}

public sealed class ClipEncoderLayer : Module<Tensor, Tensor>
{
    private readonly ClipAttention self_attn;
    private readonly LayerNorm layer_norm1;
    private readonly ClipMlp mlp;
    private readonly LayerNorm layer_norm2;

    public ClipEncoderLayer(ClipVisionConfig config, ParameterPlacement placement) : base(nameof(ClipEncoderLayer))
    {
        self_attn = new ClipAttention(config, placement);
        layer_norm1 = LayerNorm(config.HiddenSize, config.LayerNormEps, device: placement.Device, dtype: placement.Dtype);
        mlp = new ClipMlp(config, placement);
        layer_norm2 = LayerNorm(config.HiddenSize, config.LayerNormEps, device: placement.Device, dtype: placement.Dtype);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var afterAttention = hidden.Plus(self_attn.forward(layer_norm1.forward(hidden)));
        return afterAttention.Plus(mlp.forward(layer_norm2.forward(afterAttention))).MoveToOuterDisposeScope();
    }
}

public sealed class ClipAttention : Module<Tensor, Tensor>
{
    private readonly LinearLayer q_proj, k_proj, v_proj, out_proj;
    private readonly int heads, headDim;

    public ClipAttention(ClipVisionConfig config, ParameterPlacement placement) : base(nameof(ClipAttention))
    {
        heads = config.NumAttentionHeads;
        headDim = config.HiddenSize / heads;
        q_proj = new LinearLayer(config.HiddenSize, config.HiddenSize, hasBias: true, placement);
        k_proj = new LinearLayer(config.HiddenSize, config.HiddenSize, hasBias: true, placement);
        v_proj = new LinearLayer(config.HiddenSize, config.HiddenSize, hasBias: true, placement);
        out_proj = new LinearLayer(config.HiddenSize, config.HiddenSize, hasBias: true, placement);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        long batch = hidden.shape[0], length = hidden.shape[1];
        Tensor Heads(Tensor x) => x.view(batch, length, heads, headDim).transpose(1, 2);
        // No mask: every patch attends to every patch.
        var attended = ScaledDotProductAttention.Compute(
            Heads(q_proj.forward(hidden)), Heads(k_proj.forward(hidden)), Heads(v_proj.forward(hidden)), additiveMask: null, causal: false);
        var merged = attended.transpose(1, 2).reshape(batch, length, heads * headDim);
        return out_proj.forward(merged).MoveToOuterDisposeScope();
    }
}

public sealed class ClipMlp : Module<Tensor, Tensor>
{
    private readonly LinearLayer fc1, fc2;
    private readonly bool quickGelu;
    private readonly Scalar quickGeluScale = 1.702.ToScalar(); // held alive: see TensorArithmetic

    public ClipMlp(ClipVisionConfig config, ParameterPlacement placement) : base(nameof(ClipMlp))
    {
        fc1 = new LinearLayer(config.HiddenSize, config.IntermediateSize, hasBias: true, placement);
        fc2 = new LinearLayer(config.IntermediateSize, config.HiddenSize, hasBias: true, placement);
        quickGelu = config.HiddenAct == "quick_gelu";
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var x = fc1.forward(hidden);
        // OpenAI CLIP's quick_gelu: x * sigmoid(1.702 x); "gelu" is the exact erf form.
        var activated = quickGelu ? x * sigmoid(x.mul(quickGeluScale)) : functional.gelu(x);
        return fc2.forward(activated).MoveToOuterDisposeScope();
    }
}
