using System.Globalization;
using LlavaMed.Models;
using LlavaMed.Workbench;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Workbench;

public sealed class HugePagesTests
{
    const long Page = HugePages.PageBytes;

    [Theory]
    [InlineData(0L, 2 * Page, 0L, 2 * Page)]             // aligned both ends
    [InlineData(1L, 2 * Page, Page, Page)]              // one byte in: the first whole page starts at the next boundary
    [InlineData(Page + 64, 3 * Page, 2 * Page, 2 * Page)]  // ends 64 bytes into a page: that page is not whole
    [InlineData(64L, Page, Page, 0L)]                       // less than a whole page
    [InlineData(Page, 0L, Page, 0L)]                        // empty
    [InlineData(long.MaxValue - Page, Page, 0L, 0L)]        // near the top of the address space: no wrap-around
    public void WholePagesAreTheAlignedPagesInsideTheRange(long address, long bytes, long expectedStart, long expectedLength)
    {
        var (start, length) = HugePages.WholePages((IntPtr)address, bytes);
        Assert.Equal(expectedLength, length);
        if (length > 0) Assert.Equal(expectedStart, (long)start);
    }

    [Fact]
    public void MaterialisedCpuWeightsAreAdvisedAndTheRestIsNot()
    {
        Assert.True(OperatingSystem.IsLinux(), "huge pages are a Linux kernel feature; this suite runs on Linux");
        var placement = new ParameterPlacement(ScalarType.BFloat16, CPU);
        using var linear = new LinearLayer(1024, 4096, hasBias: false, placement with { Device = META }); // 8 MB of bf16
        ParameterMaterialization.Materialize(linear, placement);
        var weight = linear.Weight;
        var (start, length) = HugePages.WholePages(TensorMemory.Address(weight), weight.numel() * weight.ElementSize);
        Assert.True(length >= 3 * Page, $"{length} bytes of whole 2 MB pages in an 8 MB tensor");
        // Larger than glibc's largest mmap threshold (32 MB): a mapping of its own, never memory a freed weight advised.
        using var plain = empty([5, 1024, 4096], ScalarType.BFloat16);
        var plainPages = HugePages.WholePages(TensorMemory.Address(plain), plain.numel() * plain.ElementSize);

        if (!Directory.Exists("/sys/kernel/mm/transparent_hugepage"))
        {
            // A kernel without transparent huge pages refuses the advice: nothing is advised, nothing fails.
            Assert.Equal(0, HugePages.Advise(plain));
            return;
        }
        // The advice is the mapping's "hg" flag (VM_HUGEPAGE) in every THP mode, whether or not huge pages were free.
        Assert.Contains("hg", MappingFlags(start));
        Assert.DoesNotContain("hg", MappingFlags(plainPages.Start));
    }

    [Fact]
    public void AdviseLeavesSmallNonCpuAndStridedTensorsAlone()
    {
        using var small = zeros(1000);
        Assert.Equal(0, HugePages.Advise(small));
        using var meta = empty([4096, 4096], device: META);
        Assert.Equal(0, HugePages.Advise(meta));
        using var large = empty([4096, 4096]);
        using var strided = large.t();
        Assert.Equal(0, HugePages.Advise(strided));
        Assert.True(HugePages.Advise(large) >= 31 * Page, "a contiguous 64 MB tensor is advised: at least 31 of its 32 pages");
    }

    /// <summary>The VmFlags of the mapping holding <paramref name="address"/> in /proc/self/smaps.</summary>
    static string[] MappingFlags(IntPtr address)
    {
        ulong target = (ulong)(long)address;
        bool inside = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            int dash = line.IndexOf('-', StringComparison.Ordinal);
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            if (dash > 0 && space > dash && ulong.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var from)
                && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var to))
                inside = from <= target && target < to;
            else if (inside && line.StartsWith("VmFlags:", StringComparison.Ordinal))
                return line["VmFlags:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        }
        throw new InvalidOperationException($"no mapping holds 0x{target:x} in /proc/self/smaps");
    }
}
