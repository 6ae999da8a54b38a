using LlavaMed.Distributed;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Distributed;

public sealed class LaunchEnvironmentTests
{
    static LaunchEnvironment From(params (string Name, string Value)[] variables)
    {
        var map = variables.ToDictionary(v => v.Name, v => v.Value);
        return LaunchEnvironment.From(name => map.GetValueOrDefault(name));
    }

    [Fact]
    public void ReadsEachLauncher()
    {
        Assert.Equal(new LaunchEnvironment(3, 8, 1, "mpirun"), From(("OMPI_COMM_WORLD_RANK", "3"), ("OMPI_COMM_WORLD_SIZE", "8"), ("OMPI_COMM_WORLD_LOCAL_RANK", "1")));
        Assert.Equal(new LaunchEnvironment(2, 4, 2, "pmi"), From(("PMI_RANK", "2"), ("PMI_SIZE", "4")));
        Assert.Equal(new LaunchEnvironment(5, 16, 1, "slurm"), From(("SLURM_PROCID", "5"), ("SLURM_NTASKS", "16"), ("SLURM_LOCALID", "1")));
        // Open MPI inside a Slurm allocation: mpirun's variables describe the job.
        Assert.Equal("mpirun", From(("SLURM_PROCID", "0"), ("SLURM_NTASKS", "1"), ("OMPI_COMM_WORLD_RANK", "1"), ("OMPI_COMM_WORLD_SIZE", "2")).Launcher);
    }

    [Fact]
    public void WithoutALauncherTheProcessIsAlone()
    {
        Assert.Same(LaunchEnvironment.Single, From());
        Assert.False(From(("SLURM_PROCID", "0"), ("SLURM_NTASKS", "1")).IsDistributed);
        Assert.IsType<SingleProcessGroup>(ProcessGroup.Create(From()));
    }

    [Fact]
    public void BadValuesAreErrorsNamingTheVariable()
    {
        Assert.Contains("OMPI_COMM_WORLD_SIZE", Assert.Throws<ArgumentException>(() => From(("OMPI_COMM_WORLD_RANK", "0"), ("OMPI_COMM_WORLD_SIZE", "two"))).Message);
        Assert.Contains("PMI_RANK=4", Assert.Throws<ArgumentException>(() => From(("PMI_RANK", "4"), ("PMI_SIZE", "4"))).Message);
    }

    [Fact]
    public void NcclBackendWithoutLibncclSaysSoClearly()
    {
        // Without a GPU machine the NCCL backend is checked up to loading libnccl.so.2.
        if (System.Runtime.InteropServices.NativeLibrary.TryLoad(NcclNative.Library, out _))
        {
            NcclNative.EnsureLoaded();
            return;
        }
        var error = Assert.Throws<DistributedException>(NcclNative.EnsureLoaded);
        Assert.Contains("libnccl.so.2 could not be loaded", error.Message);
    }

    [Fact]
    public void SingleProcessGatherAndScatterCopyAndCheckSizes()
    {
        using var scope = NewDisposeScope();
        var group = new SingleProcessGroup();
        var output = zeros(4);
        group.AllGather(arange(4, ScalarType.Float32), output);
        Assert.Equal([0f, 1f, 2f, 3f], output.data<float>().ToArray());
        Assert.Throws<ArgumentException>(() => group.ReduceScatterSum(zeros(5), zeros(4)));
    }
}
