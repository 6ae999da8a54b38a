using System.Diagnostics;
using System.Text.Json;
using LlavaMed.Data;

namespace LlavaMed.Tests.Data;

/// <summary>Streaming of large files, line and index locations, and the bad-record policy both ways.</summary>
public sealed class StreamingTests : TemporaryFolder
{
    /// <summary>Writes <paramref name="count"/> alignment-style records, one per line inside the array (so record i
    /// is on line i + 2), with an optional giant caption to force the reader's buffer to grow.</summary>
    string WriteAlignmentArray(int count, int giantAt = -1)
    {
        var path = Path.Combine(Folder, "alignment.json");
        using var stream = File.Create(path);
        using var writer = new StreamWriter(stream);
        writer.WriteLine("[");
        for (var i = 0; i < count; i++)
        {
            var caption = i == giantAt ? new string('x', 300_000) : $"Caption number {i}: axial CT of the abdomen.";
            var record = new Dictionary<string, object>
            {
                ["id"] = $"PMC{i}_F1", ["image"] = $"PMC{i}_F1.jpg",
                ["conversations"] = new[]
                {
                    new Dictionary<string, string> { ["from"] = "human", ["value"] = "<image>\nDescribe the image concisely." },
                    new Dictionary<string, string> { ["from"] = "gpt", ["value"] = caption },
                },
            };
            writer.WriteLine(JsonSerializer.Serialize(record) + (i < count - 1 ? "," : ""));
        }
        writer.WriteLine("]");
        return path;
    }

    [Fact]
    public void StreamsA50kRecordArrayWithLineNumbers()
    {
        const int count = 50_000;
        var path = WriteAlignmentArray(count, giantAt: 30_000);
        var watch = Stopwatch.StartNew();
        var stream = LlavaMedFiles.ReadConversations(path);
        var seen = 0;
        LlavaSample? last = null;
        foreach (var sample in stream)
        {
            Assert.Equal($"PMC{seen}_F1", sample.Id);  // in file order, nothing held but the current record
            if (seen == 30_000) Assert.Equal(300_000, sample.Answer.Length);
            last = sample;
            seen++;
        }
        watch.Stop();
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"streamed {count} records ({new FileInfo(path).Length / (1 << 20)} MiB) in {watch.ElapsedMilliseconds} ms");
        Assert.Equal(count, seen);
        Assert.Equal(count, stream.Report.Accepted);
        Assert.Equal($"Caption number {count - 1}: axial CT of the abdomen.", last!.Answer);
        // Locations carry the index and the line: record i is on line i + 2.
        var located = JsonRecordFile.ReadArrays(path).Skip(41_999).First();
        Assert.Equal("[41999] (line 42001)", located.Location);
    }

    const string ConversationsWithBadRecords = """
        [
          {"id": "ok-0", "conversations": [{"from": "human", "value": "<image>\nQ"}, {"from": "gpt", "value": "A"}]},
          {"id": "no-turns"},
          {"id": "ok-2", "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]},
          ["not", "an", "object"]
        ]
        """;

    [Fact]
    public void FailPolicyStopsAtTheFirstBadRecordWithItsIndexAndLine()
    {
        var path = Write("bad.json", ConversationsWithBadRecords);
        var error = Assert.Throws<DataFormatException>(() => LlavaMedFiles.ReadConversations(path).ToList());
        Assert.Equal(path, error.Path);
        Assert.Equal("[1] (line 3)", error.Location);
        Assert.Contains("missing 'conversations'", error.Message);
    }

    [Fact]
    public void SkipPolicyListsEveryBadRecordAndCountsThem()
    {
        var path = Write("bad.json", ConversationsWithBadRecords);
        var stream = LlavaMedFiles.ReadConversations(path, BadRecordPolicy.SkipAndReport);
        Assert.Equal(["ok-0", "ok-2"], stream.Select(s => s.Id));
        var report = stream.Report;
        Assert.Equal((4, 2, 2), (report.Read, report.Accepted, report.Skipped));
        Assert.Equal(["[1] (line 3)", "[3] (line 5)"], report.Problems.Select(p => p.Location));
        Assert.Contains("not a JSON object", report.Problems[1].Problem);
        Assert.Contains("2 skipped", report.ToString());
    }

    [Fact]
    public void JsonlBadLinesAreSkippedOrFatalByPolicy()
    {
        var path = Write("bad.jsonl", """
            {"id": "1", "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]}
            {"id": "2", "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]
            {"id": "3", "conversations": [{"from": "human", "value": 5}]}
            {"id": "4", "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]}
            """);
        var error = Assert.Throws<DataFormatException>(() => LlavaMedFiles.ReadConversations(path).ToList());
        Assert.Equal("line 2", error.Location);
        Assert.Contains("invalid JSON", error.Problem);

        var stream = LlavaMedFiles.ReadConversations(path, BadRecordPolicy.SkipAndReport);
        Assert.Equal(["1", "4"], stream.Select(s => s.Id));
        Assert.Equal(["line 2", "line 3"], stream.Report.Problems.Select(p => p.Location));
        Assert.Contains("conversations[0] needs string 'from' and 'value'", stream.Report.Problems[1].Problem);
    }

    [Fact]
    public void SyntaxErrorInsideAnArrayIsFatalEvenWhenSkippingAndNamesItsLine()
    {
        var path = Write("broken.json", """
            [
              {"id": "1", "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]},
              {"id": "2", "conversations": [{"from": "human", "value": "Q"} {"from": "gpt", "value": "A"}]}
            ]
            """);
        var error = Assert.Throws<DataFormatException>(() => LlavaMedFiles.ReadConversations(path, BadRecordPolicy.SkipAndReport).ToList());
        Assert.Equal("line 3", error.Location);
        Assert.Contains("after record [0]", error.Problem);
    }

    [Fact]
    public void TruncatedFileIsAnError()
    {
        var path = Write("truncated.json", """[{"id": "1", "conversations": [{"from": "human", "value": "Q"}]},""");
        Assert.Throws<DataFormatException>(() => LlavaMedFiles.ReadConversations(path).ToList());
    }

    [Fact]
    public void TopLevelScalarIsAnError()
    {
        var path = Write("scalar.json", "42");
        var error = Assert.Throws<DataFormatException>(() => LlavaMedFiles.ReadConversations(path).ToList());
        Assert.Equal("top level", error.Location);
    }
}
