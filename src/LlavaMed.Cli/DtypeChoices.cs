using static TorchSharp.torch;

namespace LlavaMed.Cli;

/// <summary>The dtype names the commands accept (PyTorch's spellings).</summary>
public static class DtypeChoices
{
    public static ScalarType Parse(string name) => name switch
    {
        "float32" => ScalarType.Float32,
        "bfloat16" => ScalarType.BFloat16,
        "float16" => ScalarType.Float16,
        _ => throw new ArgumentException($"--dtype {name}: expected auto, float32, bfloat16 or float16"),
    };
}
