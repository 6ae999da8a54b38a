using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LlavaMed.Models;

/// <summary>LLaVA's <c>CLIPVisionTower</c>: wraps the CLIP model as <c>vision_tower</c> (hence the released keys
/// <c>model.vision_tower.vision_tower.vision_model.*</c>) and selects the features the projector sees.</summary>
public sealed class VisionTower : Module
{
    private readonly ClipVisionModel vision_tower;
    private readonly int selectLayer;
    private readonly bool keepCls;

    public VisionTower(LlavaConfig config, ParameterPlacement placement) : base(nameof(VisionTower))
    {
        vision_tower = new ClipVisionModel(config.Vision, placement);
        selectLayer = config.MmVisionSelectLayer;
        keepCls = config.MmVisionSelectFeature == "cls_patch";
        Config = config.Vision;
        RegisterComponents();
    }

    public ClipVisionConfig Config { get; }

    /// <summary>The CLIP model itself, whose state-dict keys are those of a standalone CLIP checkpoint.</summary>
    public ClipVisionModel Clip => vision_tower;

    /// <summary><c>hidden_states[mm_vision_select_layer]</c> (index 0 = after pre_layrnorm, negative from the
    /// end), without the CLS row for <c>patch</c> and with it for <c>cls_patch</c>: [B, N(+1), D].</summary>
    public Tensor SelectFeatures(Tensor pixelValues) => SelectFeatures(vision_tower.HiddenStates(pixelValues));

    public Tensor SelectFeatures(IReadOnlyList<Tensor> hiddenStates)
    {
        var index = selectLayer < 0 ? hiddenStates.Count + selectLayer : selectLayer;
        var selected = hiddenStates[index];
        return keepCls ? selected.alias() : selected[.., 1..];
    }

    public IReadOnlyList<Tensor> HiddenStates(Tensor pixelValues) => vision_tower.HiddenStates(pixelValues);
}
