using System.Text.Json.Nodes;
using LlavaMed.Data;

namespace LlavaMed.Tests.Cli;

public sealed class SelfInstructCommandTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-si-cli-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    string Captions(int count)
    {
        var path = Path.Combine(temporary, "llava_med_instruct_fig_captions.json");
        var groups = new JsonObject
        {
            ["ct_scan"] = new JsonArray(Enumerable.Range(0, count).Select(i => (JsonNode)new JsonObject
            {
                ["pair_id"] = $"PMC{i}_F1", ["fig_label"] = "Figure 1",
                ["fig_caption"] = $"Contrast-enhanced CT of the chest in patient {i}. A large cavitating lesion was identified in the right upper lobe.",
                ["in_text_mention"] = new JsonArray(new JsonObject { ["tokens"] = "The lesion extended into the chest wall ( Figure 1 ) .", ["entities"] = new JsonArray() }),
                ["domain"] = new JsonObject { ["chest_xray"] = false, ["mri"] = false, ["ct_scan"] = true, ["histology"] = false, ["gross"] = false },
            }).ToArray()),
        };
        File.WriteAllText(path, groups.ToJsonString());
        return path;
    }

    [Fact]
    public void OfflineRunWritesTheInstructFileAndAFreeRerun()
    {
        var captions = Captions(20);
        var output = Path.Combine(temporary, "llava_med_instruct_10.json");
        string[] args = ["data", "self-instruct", "--captions", captions, "--out", output, "--inline-mentions",
                         "--subset", "10", "--seed", "5", "--cache", Path.Combine(temporary, "cache"), "--report", Path.Combine(temporary, "report.jsonl")];
        var (code, stdout, stderr) = CliRunner.Run(args);
        Assert.Equal(0, code);
        Assert.Contains("kept 10, dropped 0, failed 0", stdout);
        Assert.Contains("requests sent 10", stdout);
        Assert.Contains("[10/10]", stderr);
        var samples = LlavaSample.ReadJsonArray(output);
        Assert.Equal(10, samples.Count);
        Assert.All(samples, s => Assert.Contains("<image>", s.Conversations[0].Value));
        Assert.All(samples, s => Assert.Contains(s.Conversations, t => t.Value.StartsWith("The lesion extended into the chest wall")));
        Assert.Equal(10, File.ReadAllLines(Path.Combine(temporary, "report.jsonl")).Length);

        var first = File.ReadAllText(output);
        var (again, rerun, _) = CliRunner.Run(args);
        Assert.Equal(0, again);
        Assert.Contains("requests sent 0", rerun);
        Assert.Equal(first, File.ReadAllText(output));
    }

    [Fact]
    public void CaptionOnlyVariantLeavesTheMentionsOut()
    {
        var output = Path.Combine(temporary, "llava_med_instruct_60k.json");
        var (code, _, _) = CliRunner.Run("data", "self-instruct", "--captions", Captions(3), "--out", output, "--no-cache");
        Assert.Equal(0, code);
        Assert.All(LlavaSample.ReadJsonArray(output), s => Assert.DoesNotContain(s.Conversations, t => t.Value.Contains("chest wall")));
    }

    [Fact]
    public void BadRecordsAreAnErrorOrSkippedOnRequest()
    {
        var captions = Path.Combine(temporary, "bad.jsonl");
        File.WriteAllText(captions, "{\"pair_id\": \"a\", \"fig_label\": \"Figure 1\", \"fig_caption\": \"Axial CT of the abdomen showing a liver lesion.\"}\n{\"pair_id\": "
            + "\"b\"}\n");
        var output = Path.Combine(temporary, "out.json");
        var (code, _, error) = CliRunner.Run("data", "self-instruct", "--captions", captions, "--out", output, "--no-cache");
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", error);
        Assert.Contains("line 2", error);
        (code, _, error) = CliRunner.Run("data", "self-instruct", "--captions", captions, "--out", output, "--no-cache", "--on-bad-record", "skip");
        Assert.Equal(0, code);
        Assert.Contains("skipped", error);
        Assert.Single(LlavaSample.ReadJsonArray(output));
    }
}
