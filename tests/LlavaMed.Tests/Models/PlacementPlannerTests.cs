using LlavaMed.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Models;

public sealed class PlacementPlannerTests
{
    const long SevenB = 7_566_219_264;
    static readonly Device Cuda = new(DeviceType.CUDA, 0);
    static MachineResources Cpu(double availableGb, string? flag = null) => new((long)(availableGb * 1e9), null, flag, false);

    static PlacementDecision Answer(DtypeRequest request, MachineResources machine, Device? device = null, ScalarType? stored = null) =>
        PlacementPlanner.Decide(request, device ?? CPU, Workload.Answering, SevenB, SevenB, stored, machine);

    [Fact]
    public void AutoOnACpuTakesBFloat16WhenFloat32DoesNotFitAndSaysWhy()
    {
        var decision = Answer(DtypeRequest.Auto, Cpu(21.9));
        Assert.Equal(ScalarType.BFloat16, decision.Dtype);
        Assert.Equal("float32 would not fit (needs 31.3 GB as float32, 21.9 GB available)", decision.Reason);
        Assert.Equal(SevenB * 2 + PlacementPlanner.RuntimeBytes, decision.Estimate.TotalBytes);
    }

    [Fact]
    public void AutoOnACpuFollowsNativeBf16WhenFloat32Fits()
    {
        Assert.Equal(ScalarType.Float32, Answer(DtypeRequest.Auto, Cpu(64)).Dtype);
        var withAmx = Answer(DtypeRequest.Auto, Cpu(64, "amx_bf16"));
        Assert.Equal(ScalarType.BFloat16, withAmx.Dtype);
        Assert.Contains("amx_bf16", withAmx.Reason);
    }

    [Fact]
    public void AutoOnAGpuTakesTheCheckpointDtype()
    {
        var gpu = new MachineResources(8_000_000_000, 80_000_000_000, null, CudaAvailable: true);
        Assert.Equal(ScalarType.Float16, Answer(DtypeRequest.Auto, gpu, Cuda, ScalarType.Float16).Dtype);
        Assert.Equal(ScalarType.BFloat16, Answer(DtypeRequest.Auto, gpu, Cuda, null).Dtype);
        // Host memory does not limit a GPU load (it streams through one bounded buffer).
        Assert.Equal(ScalarType.Float32, Answer(DtypeRequest.Auto, gpu, Cuda, ScalarType.Float32).Dtype);
    }

    [Fact]
    public void TrainingAutoIsFloat32UnlessItCannotFit()
    {
        var tiny = PlacementPlanner.Decide(DtypeRequest.Auto, CPU, Workload.Training, 50_000_000, 50_000_000, ScalarType.BFloat16, Cpu(20));
        Assert.Equal(ScalarType.Float32, tiny.Dtype);
        // 1B parameters: float32 training needs 4 + 4 + 8 bytes each plus runtime, about 18.1 GB; bfloat16 2 + 2 + 8.
        var large = PlacementPlanner.Decide(DtypeRequest.Auto, CPU, Workload.Training, 1_000_000_000, 1_000_000_000, null, Cpu(16));
        Assert.Equal(ScalarType.BFloat16, large.Dtype);
    }

    [Fact]
    public void RefusalNamesTheNumbersAndTheOptionThatFits()
    {
        var error = Assert.Throws<MemoryPreflightException>(() => Answer(DtypeRequest.Float32, Cpu(21.9)));
        Assert.Equal("needs 31.3 GB as float32, 21.9 GB available; --dtype bfloat16 needs 16.2 GB", error.Message);
        var none = Assert.Throws<MemoryPreflightException>(() => Answer(DtypeRequest.Auto, Cpu(8)));
        Assert.Equal("needs 16.2 GB as bfloat16, 8.0 GB available; no dtype fits this machine", none.Message);
    }

    [Fact]
    public void UnsupportedCombinationsAreOneClearLine()
    {
        var noCuda = Assert.Throws<ArgumentException>(() => Answer(DtypeRequest.Auto, Cpu(64), Cuda));
        Assert.Contains("torch.cuda.is_available() is false", noCuda.Message);
        var half = Assert.Throws<ArgumentException>(() =>
            PlacementPlanner.Decide(DtypeRequest.Float16, CPU, Workload.Training, 1000, 1000, null, Cpu(64)));
        Assert.Contains("float16 on the CPU cannot train", half.Message);
        Assert.Throws<ArgumentException>(() => PlacementPlanner.ParseDevice("gpu"));
        Assert.Equal(3, PlacementPlanner.ParseDevice("cuda:3").index);
        Assert.Throws<ArgumentException>(() => PlacementPlanner.ParseDtype("fp8"));
    }

    [Fact]
    public void MachineProbeParsesMeminfoCgroupAndCpuFlags()
    {
        Assert.Equal(21_900_000L * 1024, MachineProbe.ParseMemAvailable("MemTotal:  24000000 kB\nMemAvailable:   21900000 kB\n"));
        Assert.Null(MachineProbe.ParseMemAvailable("MemTotal: 1 kB\n"));
        Assert.Null(MachineProbe.CgroupRoom("max\n", "123\n"));
        Assert.Equal(6_000_000_000L, MachineProbe.CgroupRoom("8000000000\n", "2000000000\n"));
        Assert.Equal("avx512_bf16", MachineProbe.NativeBf16Flag("processor: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n"));
        Assert.Equal("amx_bf16", MachineProbe.NativeBf16Flag("flags : avx512_bf16 amx_bf16 amx_tile\n"));
        Assert.Null(MachineProbe.NativeBf16Flag("flags : fpu avx2 avx512f\n"));
    }
}
