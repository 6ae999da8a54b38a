using LlavaMed.Models;
using LlavaMed.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Models;

public sealed class PlacementPlannerTests
{
    const long SevenB = 7_566_219_264;
    static readonly Device Cuda = new(DeviceType.CUDA, 0);
    static MachineResources Cpu(double availableGb, string? flag = null) => new((long)(availableGb * 1e9), null, flag, false);

    static PlacementDecision Answer(DtypeRequest request, MachineResources machine, Device? device = null, ScalarType? stored = null) =>
        PlacementPlanner.Decide(request, device ?? CPU, Workload.Answering, new LoadNeed(SevenB), stored, machine);

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
    public void TrainingAutoIsFloat32UnlessItCannotFitAndTheEstimateIsTheMemoryPlans()
    {
        var tiny = new TrainingNeed(TinyModels.Config(), new MemoryPlanSettings(MaxLength: 64));
        var decision = PlacementPlanner.Decide(DtypeRequest.Auto, CPU, Workload.Training, tiny, ScalarType.BFloat16, Cpu(20));
        Assert.Equal(ScalarType.Float32, decision.Dtype);
        Assert.Equal(tiny.Plan(ScalarType.Float32).TotalBytes, decision.Estimate.TotalBytes);
        // 7B, LoRA r16, checkpointing, 256 tokens: float32 (~33 GB) does not fit 24 GB, bfloat16 (~16 GB) does.
        var lora = new TrainingNeed(LlavaConfig.LlavaMedV15Mistral7B, new MemoryPlanSettings(Lora: new LoraOptions(16), MaxLength: 256, GradientCheckpointing: true));
        var large = PlacementPlanner.Decide(DtypeRequest.Auto, CPU, Workload.Training, lora, null, Cpu(24));
        Assert.Equal(ScalarType.BFloat16, large.Dtype);
        Assert.StartsWith("float32 would not fit (needs 3", large.Reason);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void TrainingRefusalNamesTheOptionsThatWouldFit()
    {
        var sevenB = LlavaConfig.LlavaMedV15Mistral7B;
        var settings = new MemoryPlanSettings(MaxLength: 256);
        var full = new TrainingNeed(sevenB, settings);
        var error = Assert.Throws<MemoryPreflightException>(() =>
            PlacementPlanner.Decide(DtypeRequest.Float32, CPU, Workload.Training, full, null, Cpu(24)));
        // No single change fits a 7B full fine-tune into 24 GB: all of them together do.
        var together = MemoryPlan.Estimate(sevenB, settings with { Dtype = ScalarType.BFloat16, GradientCheckpointing = true, Lora = new LoraOptions(16) });
        Assert.Equal($"needs {PlacementPlanner.Gb(full.Plan(ScalarType.Float32).TotalBytes)} as float32, 24.0 GB available; "
                     + $"--dtype bfloat16 --gradient-checkpointing --lora-rank 16 needs {PlacementPlanner.Gb(together.TotalBytes)}", error.Message);
        // With room for a bfloat16 LoRA run but not its activations at batch 8: each change that fits alone is named.
        var batched = new MemoryPlanSettings(Dtype: ScalarType.BFloat16, Lora: new LoraOptions(16), BatchSize: 8, MaxLength: 2048);
        var fitting = MemoryPlan.Fitting(sevenB, batched, 40L << 30);
        Assert.Equal(["--gradient-checkpointing", "--batch-size 1"], fitting.Select(f => f.Options));
        Assert.All(fitting, f => Assert.True(f.TotalBytes <= 40L << 30));
        Assert.True(MemoryPlan.Estimate(sevenB, batched with { BatchSize = 2 }).TotalBytes > 40L << 30); // the largest batch that fits is named
    }

    [Fact]
    public void RefusalLineIsOneLineWithEachFittingChange()
    {
        Assert.Equal("needs 31.3 GB as float32, 21.9 GB available; --gradient-checkpointing needs 20.0 GB; --batch-size 2 needs 21.0 GB",
            PlacementPlanner.RefusalLine("31.3 GB as float32", "21.9 GB available",
                [("--gradient-checkpointing", 20_000_000_000), ("--batch-size 2", 21_000_000_000)], "nothing fits"));
        Assert.Equal("needs 31.3 GB as float32, 8.0 GB available; nothing fits",
            PlacementPlanner.RefusalLine("31.3 GB as float32", "8.0 GB available", [], "nothing fits"));
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
            PlacementPlanner.Decide(DtypeRequest.Float16, CPU, Workload.Training, new LoadNeed(1000), null, Cpu(64)));
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
        Assert.Equal("bf16", MachineProbe.NativeBf16Flag("processor : 0\nFeatures : fp asimd fphp asimdhp bf16 i8mm\n")); // ARM
        Assert.Null(MachineProbe.CpuFlags("processor : 0\nmodel name : unknown\n"));
        var xeon = MachineProbe.CpuFlags("flags : fpu avx2 avx512f avx512_vnni\nflags : other\n")!; // the first line only
        Assert.Equal(["avx2", "avx512_vnni", "avx512f", "fpu"], xeon.Order(StringComparer.Ordinal));
        Assert.Null(MachineProbe.NativeFlag(xeon, ScalarType.BFloat16));
        Assert.Null(MachineProbe.NativeFlag(xeon, ScalarType.Float16));
        Assert.Equal("avx512_fp16", MachineProbe.NativeFlag(new HashSet<string> { "avx512_fp16", "avx512_bf16" }, ScalarType.Float16));
        Assert.Null(MachineProbe.NativeFlag(new HashSet<string> { "avx512_bf16" }, ScalarType.Float32));
    }
}
