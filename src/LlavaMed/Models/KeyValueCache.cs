using static TorchSharp.torch;

namespace LlavaMed.Models;

/// <summary>Keys and values of every decoder layer for the tokens seen so far ([B, kv_heads, T, head_dim]).
/// The cache owns its tensors (they live outside any dispose scope) and frees the old ones as it grows.</summary>
public sealed class KeyValueCache : IDisposable
{
    private readonly Tensor?[] keys;
    private readonly Tensor?[] values;

    public KeyValueCache(int layers)
    {
        keys = new Tensor?[layers];
        values = new Tensor?[layers];
    }

    /// <summary>Number of positions cached.</summary>
    public long Length => keys[0]?.shape[2] ?? 0;

    /// <summary>Appends this step's keys and values for a layer and returns the full keys and values.</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor newKeys, Tensor newValues)
    {
        keys[layer] = Grow(keys[layer], newKeys);
        values[layer] = Grow(values[layer], newValues);
        return (keys[layer]!, values[layer]!);
    }

    static Tensor Grow(Tensor? old, Tensor added)
    {
        var grown = old is null ? added.detach().clone() : cat([old, added.detach()], 2);
        old?.Dispose();
        return grown.DetachFromDisposeScope();
    }

    public void Dispose()
    {
        foreach (var t in keys.Concat(values)) t?.Dispose();
        Array.Clear(keys);
        Array.Clear(values);
    }
}
