using System.Runtime.InteropServices;
using LlavaMed.Workbench;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Workbench;

public sealed class TensorMemoryTests
{
    [Theory]
    [InlineData(ScalarType.BFloat16, (short)0x3F80, (short)0x4040)] // 1.0 and 3.0
    [InlineData(ScalarType.Float16, (short)0x3C00, (short)0x4200)]
    public void AddressIsTheFirstElementOfSixteenBitTensorsAndViews(ScalarType dtype, short one, short three)
    {
        using var values = tensor(new float[] { 0, 1, 2, 3 }).to(dtype);
        using var view = values.narrow(0, 1, 3); // a storage offset of one element
        var address = TensorMemory.Address(view);
        Assert.Equal(TensorMemory.Address(values) + 2, address);
        Assert.Equal(one, Marshal.ReadInt16(address));
        Assert.Equal(three, Marshal.ReadInt16(address, 4));
    }

    [Fact]
    public void AddressOfFloat32ValuesReadsThem()
    {
        using var values = tensor(new float[] { 5, 6, 7 });
        var read = new float[3];
        Marshal.Copy(TensorMemory.Address(values), read, 0, 3);
        Assert.Equal([5f, 6f, 7f], read);
    }

    [Fact]
    public void AddressOfATensorWithoutStorageFails()
    {
        using var meta = empty([4, 4], device: META);
        Assert.ThrowsAny<Exception>(() => TensorMemory.Address(meta));
    }
}
