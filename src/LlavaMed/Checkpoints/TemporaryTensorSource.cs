using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace LlavaMed.Checkpoints;

public sealed class CheckpointFormatException(string path, string problem) : Exception($"{path}: {problem}")
{
    public string Path { get; } = path;
}

internal sealed class TensorSource : IDisposable
{
    private readonly Dictionary<string, Tensor> tensors;
    private TensorSource(Dictionary<string, Tensor> t) => tensors = t;
    public static TensorSource Open(string folder) => new(Safetensors.LoadStateDict(System.IO.Path.Combine(folder, "model.safetensors")));
    public IEnumerable<string> Names => tensors.Keys;
    public long[] Shape(string name) => tensors[name].shape;
    public Tensor Read(string name, ScalarType dtype, Device device) => tensors[name].to(dtype, device);
    public void Dispose() { foreach (var t in tensors.Values) t.Dispose(); }
}
