using TorchSharp;

namespace LlavaMed.Checkpoints;

/// <summary>The element types of the safetensors format. Declared in the reference crate's order (increasing
/// alignment): its writer lays tensors out by descending dtype, then by name, and ours does the same.</summary>
public enum SafetensorsDtype
{
    Bool,
    U8,
    I8,
    F8E5M2,
    F8E4M3,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    F64,
    I64,
    U64,
}

public static class SafetensorsDtypes
{
    /// <summary>The dtype as spelled in a safetensors header ("F32", "BF16", "BOOL", ...).</summary>
    public static string HeaderName(this SafetensorsDtype dtype) => dtype switch
    {
        SafetensorsDtype.Bool => "BOOL",
        SafetensorsDtype.F8E5M2 => "F8_E5M2",
        SafetensorsDtype.F8E4M3 => "F8_E4M3",
        _ => dtype.ToString(),
    };

    public static bool TryParseHeaderName(string name, out SafetensorsDtype dtype)
    {
        foreach (var candidate in Enum.GetValues<SafetensorsDtype>())
        {
            if (candidate.HeaderName() != name) continue;
            dtype = candidate;
            return true;
        }
        dtype = default;
        return false;
    }

    public static int ElementSize(this SafetensorsDtype dtype) => dtype switch
    {
        SafetensorsDtype.Bool or SafetensorsDtype.U8 or SafetensorsDtype.I8
            or SafetensorsDtype.F8E5M2 or SafetensorsDtype.F8E4M3 => 1,
        SafetensorsDtype.I16 or SafetensorsDtype.U16 or SafetensorsDtype.F16 or SafetensorsDtype.BF16 => 2,
        SafetensorsDtype.I32 or SafetensorsDtype.U32 or SafetensorsDtype.F32 => 4,
        SafetensorsDtype.F64 or SafetensorsDtype.I64 or SafetensorsDtype.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>The TorchSharp element type with the same bytes, or null where TorchSharp has none (unsigned
    /// 16/32/64-bit and the 8-bit floats): such tensors can be listed but not read.</summary>
    public static torch.ScalarType? ToScalarType(this SafetensorsDtype dtype) => dtype switch
    {
        SafetensorsDtype.Bool => torch.ScalarType.Bool,
        SafetensorsDtype.U8 => torch.ScalarType.Byte,
        SafetensorsDtype.I8 => torch.ScalarType.Int8,
        SafetensorsDtype.I16 => torch.ScalarType.Int16,
        SafetensorsDtype.F16 => torch.ScalarType.Float16,
        SafetensorsDtype.BF16 => torch.ScalarType.BFloat16,
        SafetensorsDtype.I32 => torch.ScalarType.Int32,
        SafetensorsDtype.F32 => torch.ScalarType.Float32,
        SafetensorsDtype.F64 => torch.ScalarType.Float64,
        SafetensorsDtype.I64 => torch.ScalarType.Int64,
        _ => null,
    };

    public static SafetensorsDtype FromScalarType(torch.ScalarType scalarType) => scalarType switch
    {
        torch.ScalarType.Bool => SafetensorsDtype.Bool,
        torch.ScalarType.Byte => SafetensorsDtype.U8,
        torch.ScalarType.Int8 => SafetensorsDtype.I8,
        torch.ScalarType.Int16 => SafetensorsDtype.I16,
        torch.ScalarType.Float16 => SafetensorsDtype.F16,
        torch.ScalarType.BFloat16 => SafetensorsDtype.BF16,
        torch.ScalarType.Int32 => SafetensorsDtype.I32,
        torch.ScalarType.Float32 => SafetensorsDtype.F32,
        torch.ScalarType.Float64 => SafetensorsDtype.F64,
        torch.ScalarType.Int64 => SafetensorsDtype.I64,
        _ => throw new ArgumentException($"tensors of type {scalarType} have no safetensors dtype", nameof(scalarType)),
    };
}
