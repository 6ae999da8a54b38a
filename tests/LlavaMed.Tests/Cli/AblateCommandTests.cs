namespace LlavaMed.Tests.Cli;

public sealed class AblateCommandTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-ablate-cli-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    [Fact]
    public void GridProblemsAreOneErrorLineNamingTheFileAndField()
    {
        var grid = Path.Combine(temporary, "grid.json");
        File.WriteAllText(grid, """{"variants": [{"name": "a", "stage1_epoch": 1}]}""");

        var (code, _, error) = CliRunner.Run("ablate", "--grid", grid, "--out", Path.Combine(temporary, "out"));
        Assert.Equal(1, code);
        Assert.Equal($"error: {grid}:variants[0].stage1_epoch: unknown field 'stage1_epoch' (known: name, label, stage1_epochs, inline_mentions, "
                     + "instruction_fraction, image_size_factor, projector, start)", error.Trim());

        (code, _, error) = CliRunner.Run("ablate", "--grid", Path.Combine(temporary, "missing.json"));
        Assert.Equal(1, code);
        Assert.Contains("grid file not found", error);

        File.WriteAllText(grid, """{"variants": [{"name": "a"}, {"name": "b"}]}""");
        (code, _, error) = CliRunner.Run("ablate", "--grid", grid, "--quick", "--only", "b", "c", "--out", Path.Combine(temporary, "out"));
        Assert.Equal(1, code);
        Assert.Contains("has no variant 'c' (it has a, b)", error);
        Assert.False(Directory.Exists(Path.Combine(temporary, "out")));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void AQuickGridPrintsItsProgressAndTheTable()
    {
        var grid = Path.Combine(temporary, "grid.json");
        File.WriteAllText(grid, """{"scale": "full", "variants": [{"name": "no-stage1", "stage1_epochs": 0}]}""");
        var output = Path.Combine(temporary, "out");

        var (code, stdout, _) = CliRunner.Run("ablate", "--grid", grid, "--quick", "--out", output);

        Assert.Equal(0, code);
        Assert.Contains("no-stage1 [ablation] stage 1 skipped (0 epochs); starting model px56-mlp2x_gelu-seed0-", stdout);
        Assert.Contains("no-stage1 [downstream] step ", stdout);
        Assert.Contains("| no-stage1 | no-stage1 | 0 | captions | 1 | 56 | mlp2x_gelu | general model (from LLaVA) |", stdout);
        Assert.Contains("done in ", stdout);
        Assert.Contains("1 variants run, 0 reused", stdout);
        Assert.True(File.Exists(Path.Combine(output, "ablations.csv")));
        Assert.False(Directory.Exists(Path.Combine(output, "no-stage1", "stage1-alignment")));
    }
}
