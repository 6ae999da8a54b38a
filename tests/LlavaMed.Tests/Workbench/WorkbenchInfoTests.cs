using LlavaMed.Notebooks;
using LlavaMed.Workbench;

namespace LlavaMed.Tests.Workbench;

public sealed class WorkbenchInfoTests
{
    [Fact]
    public void NamesTheBackendDevicesDtypeFoldersAndVersionsInOneCall()
    {
        var info = WorkbenchInfo.Collect([("kernel", "test")]);

        Assert.Equal("TorchSharp-cpu", info["backend"]);
        Assert.Equal("Float32 / cpu", info["default load dtype / device"]);
        Assert.Equal(WorkbenchPaths.CacheRoot(), info["cache"]);
        Assert.Equal(WorkbenchPaths.FindRepositoryRoot(), info["repository"]);
        Assert.Equal("0.107.0", info["TorchSharp"]);
        Assert.Equal(("kernel", "test"), info.Items[^1]);
        Assert.Contains("<td>backend</td><td>TorchSharp-cpu</td>", info.ToHtml().Html);
    }
}
