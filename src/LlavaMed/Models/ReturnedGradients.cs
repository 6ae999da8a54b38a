using static TorchSharp.torch;

namespace LlavaMed.Models;

/// <summary>The gradients the last custom autograd backward on this thread returned (<see cref="ActivationCheckpointing"/>'s
/// recomputed layers, <see cref="ReducedPrecisionProducts"/>' widened products). libtorch takes its own references
/// only once a backward returns, so they are held until the next custom backward (or checkpointed forward) releases
/// them: left to the caller's dispose scope, every node's gradients would stay until the step ends.</summary>
static class ReturnedGradients
{
    [ThreadStatic] static List<Tensor>? held;

    public static void Release()
    {
        if (held is null) return;
        foreach (var gradient in held) gradient.Dispose();
        held = null;
    }

    /// <summary>Releases what was held (its backward has returned, so libtorch holds its own references; a nested
    /// backward's gradients are released here by the enclosing one) and holds <paramref name="gradients"/>, detached
    /// from any dispose scope.</summary>
    public static void Hold(IEnumerable<Tensor?> gradients)
    {
        Release();
        held = [.. gradients.OfType<Tensor>().Select(g => g.DetachFromDisposeScope())];
    }
}
