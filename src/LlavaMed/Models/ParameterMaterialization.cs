using LlavaMed.Workbench;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LlavaMed.Models;

/// <summary>
/// Gives a model built on the <c>meta</c> device real, uninitialised storage: a checkpoint load overwrites every
/// parameter, so drawing random initial values first (7.5 B of them for the 7B model, most of a two-minute load on
/// two cores) is wasted work. Building on <c>meta</c> runs every constructor and initialiser without memory or
/// arithmetic; each parameter is then replaced by <c>torch.empty</c> in the target dtype and device (on the CPU in
/// transparent huge pages where the kernel gives them, <see cref="HugePages"/>). Models for
/// training are built directly on their device and initialised as always (<see cref="WeightInitialization"/>).
/// </summary>
public static class ParameterMaterialization
{
    /// <summary>Builds <paramref name="config"/>'s model with uninitialised parameters at <paramref name="placement"/>.
    /// Every value is garbage until a checkpoint is copied in.</summary>
    public static LlavaForCausalLM Uninitialized(LlavaConfig config, ParameterPlacement placement)
    {
        var model = new LlavaForCausalLM(config, placement with { Device = META });
        try
        {
            Materialize(model, placement);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Replaces every <c>meta</c> parameter of <paramref name="root"/> by uninitialised storage at
    /// <paramref name="placement"/>; fails naming the first module type it does not know how to swap.</summary>
    public static void Materialize(Module root, ParameterPlacement placement)
    {
        Parameter Empty(Tensor meta)
        {
            var storage = empty(meta.shape, placement.Dtype, placement.Device);
            HugePages.Advise(storage); // before the checkpoint's values are written into it
            return new Parameter(storage, meta.requires_grad);
        }
        foreach (var (name, module) in root.named_modules().Prepend(("", root)))
        {
            switch (module)
            {
                case LinearLayer linear:
                    linear.ReplaceParameters(Empty(linear.Weight), linear.Bias is { } linearBias ? Empty(linearBias) : null);
                    break;
                case Embedding embedding:
                    embedding.weight = Empty(embedding.weight!);
                    break;
                case Conv2d conv:
                    conv.weight = Empty(conv.weight!);
                    if (conv.bias is { } convBias) conv.bias = Empty(convBias);
                    break;
                case LayerNorm norm:
                    norm.weight = Empty(norm.weight!);
                    if (norm.bias is { } normBias) norm.bias = Empty(normBias);
                    break;
                case RmsNorm rms:
                    rms.ReplaceWeight(Empty(rms.named_parameters(recurse: false).Single().parameter));
                    break;
                case ClipVisionEmbeddings embeddings:
                    embeddings.ReplaceClassEmbedding(Empty(embeddings.named_parameters(recurse: false)
                        .Single(p => p.name == "class_embedding").parameter));
                    break;
            }
            foreach (var (parameterName, parameter) in module.named_parameters(recurse: false))
                if (parameter.device_type == DeviceType.META)
                    throw new NotSupportedException(
                        $"cannot materialise parameter '{(name.Length == 0 ? "" : name + ".")}{parameterName}' of a {module.GetType().Name}");
        }
    }
}
