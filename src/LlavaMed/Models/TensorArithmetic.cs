using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Models;

/// <summary>Tensor additions that never hand TorchSharp a temporary <see cref="Scalar"/>. TorchSharp 0.107 turns
/// numbers into Scalar objects that nothing keeps alive, also inside <c>a + b</c> (its alpha is an implicit 1):
/// when another thread triggers a garbage collection during the native call, the finalizer frees the Scalar while
/// libtorch still reads it, and long runs die with "Unknown scalar type" (dotnet/TorchSharp pull requests 1434 and
/// 1496 are open about it). Library code therefore passes Scalars it disposes after the call or these process-wide
/// ones, and an audit test fails on any implicit conversion left.</summary>
public static class TensorArithmetic
{
    /// <summary>Lives as long as the process: safe to pass to any native call.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary><c>a + b</c>.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><c>a + b</c> for a scalar <paramref name="b"/> the caller keeps alive.</summary>
    public static Tensor Plus(this Tensor a, Scalar b) => a.add(b, One);

    /// <summary><c>a += b</c>.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);
}
