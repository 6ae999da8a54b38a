using System.CommandLine;
using System.Text.Json.Nodes;
using LlavaMed.Cli;
using LlavaMed.Data;
using LlavaMed.Tests.Cli;
using LlavaMed.Text;

namespace LlavaMed.Tests.Data;

/// <summary>Image path checks, and conversion to the LLaVA-Med downstream layout: the real VQA-RAD, a SLAKE-shaped
/// folder, hub Parquet files, through the library and the <c>llava-med data convert</c> command.</summary>
public sealed class ConversionTests : TemporaryFolder
{
    static LlavaSample Sample(string id, string? image) =>
        new(id, image, [new ConversationTurn(ConversationTurn.HumanSpeaker, "<image>\nQ"), new ConversationTurn(ConversationTurn.GptSpeaker, "A")]);

    [Theory]
    [InlineData("../secret.jpg")]
    [InlineData("a/../../secret.jpg")]
    [InlineData("a\\..\\..\\secret.jpg")]
    [InlineData("/etc/passwd")]
    [InlineData("C:\\images\\x.jpg")]
    [InlineData("")]
    public void EscapingAndAbsolutePathsAreRejected(string image)
    {
        Assert.Null(ImagePaths.TryResolve(Folder, image, out var problem));
        Assert.NotNull(problem);
        Assert.Throws<InvalidDataException>(() => ImagePaths.Resolve(Folder, image));
    }

    [Fact]
    public void RelativePathsResolveUnderTheRoot()
    {
        Assert.Equal(Path.Combine(Folder, "xmlab1", "source.jpg"), ImagePaths.Resolve(Folder, "xmlab1/source.jpg"));
        Assert.Equal(Path.Combine(Folder, "a", "b.jpg"), ImagePaths.Resolve(Folder, "a/./b.jpg"));
    }

    [Fact]
    public void MissingImagesAreListedBeforeTraining()
    {
        Write("images/present.jpg", [1, 2, 3]);
        Write("outside.jpg", [1]);
        var samples = new[]
        {
            Sample("1", "present.jpg"), Sample("2", "absent.jpg"), Sample("3", null), Sample("4", "../outside.jpg"), Sample("5", "absent.jpg"),
        };
        var missing = ImageCheck.FindMissing(samples, Path.Combine(Folder, "images"));
        Assert.Equal(["2", "4", "5"], missing.Select(m => m.SampleId));
        Assert.Contains("not found", missing[0].Problem);
        Assert.Contains("leaves the image root", missing[1].Problem);
    }

    [Fact]
    public void RealVqaRadConvertsWithTestOrderAndCounts()
    {
        var input = SharedFixtures.Require("datasets", "vqa-rad");
        var output = Path.Combine(Folder, "vqa-rad");
        var (code, stdout, stderr) = CliRunner.Run("data", "convert", "--from", "vqa-rad", "--input", input, "--out", output, "--closed-options");
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        Assert.Contains("test.json: 451 records: CLOSED 272 (yes/no 251), OPEN 179", stdout);
        Assert.Contains("train.json: 3064 records: CLOSED 1823 (yes/no 1713), OPEN 1241", stdout);
        Assert.Contains("314 images", stdout);  // 315 in the folder; synpic35356.jpg has no question

        var test = LlavaSample.ReadJsonArray(Path.Combine(output, "test.json"));
        var original = JsonNode.Parse(File.ReadAllText(Path.Combine(input, "testset.json")))!.AsArray();
        Assert.Equal(original.Select(r => r!["qid"]!.ToJsonString()), test.Select(s => s.Id));
        Assert.Equal(original.Select(r => r!["answer"]!.ToString()), test.Select(s => s.Answer));
        Assert.All(test, s => Assert.StartsWith("<image>\n", s.Conversations[0].Value));
        Assert.Equal(251, test.Count(s => s.Conversations[0].Value.EndsWith(DownstreamFormat.ClosedOptionsSuffix)));
        Assert.Equal((272, 179), (test.Count(s => s.AnswerType == "CLOSED"), test.Count(s => s.AnswerType == "OPEN")));
        Assert.Empty(ImageCheck.FindMissing(test, Path.Combine(output, "images")));

        var train = LlavaSample.ReadJsonArray(Path.Combine(output, "train.json"));
        Assert.Equal(["CLOSED", "OPEN"], train.Select(s => s.AnswerType).Distinct().Order());  // "CLOSED " normalized
        Assert.Equal("4", train.First(s => s.Id == "2392").Answer);
    }

    string WriteSlakeFolder(bool withAllImages)
    {
        var input = Path.Combine(Folder, "Slake1.0");
        Write("Slake1.0/imgs/xmlab0/source.jpg", VqaSourceTests.Jpeg);
        if (withAllImages) Write("Slake1.0/imgs/xmlab1/source.jpg", VqaSourceTests.Jpeg);
        Write("Slake1.0/train.json", """
            [{"img_id": 0, "img_name": "xmlab0/source.jpg", "question": "Does the picture contain liver?", "answer": "Yes", "q_lang": "en", "answer_type": "CLOSED", "qid": 1},
             {"img_id": 0, "img_name": "xmlab0/source.jpg", "question": "图片中包含肝脏吗？", "answer": "是", "q_lang": "zh", "answer_type": "CLOSED", "qid": 2},
             {"img_id": 1, "img_name": "xmlab1/source.jpg", "question": "Which organ is abnormal?", "answer": "Liver", "q_lang": "en", "answer_type": "OPEN", "qid": 3}]
            """);
        Write("Slake1.0/test.json", """
            [{"img_id": 0, "img_name": "xmlab0/source.jpg", "question": "Is this an MRI?", "answer": "No", "q_lang": "en", "answer_type": "CLOSED", "qid": 4}]
            """);
        return input;
    }

    [Fact]
    public void SlakeConvertsEnglishQuestionsAndCopiesImages()
    {
        var output = Path.Combine(Folder, "out");
        var result = DownstreamConverter.Convert(new ConvertOptions(VqaSource.Slake, WriteSlakeFolder(withAllImages: true), output));
        Assert.Equal([new SplitCounts("train", "train.json", 2, 1, 1, 1), new SplitCounts("test", "test.json", 1, 1, 0, 1)], result.Splits);
        Assert.Equal(1, result.Reads[0].Excluded);
        Assert.True(File.Exists(Path.Combine(output, "images", "xmlab1", "source.jpg")));
        Assert.Equal("xmlab0/source.jpg", LlavaSample.ReadJsonArray(Path.Combine(output, "test.json"))[0].Image);
    }

    [Fact]
    public void MissingImagesFailTheConversionOrAreSkippedAndListed()
    {
        var input = WriteSlakeFolder(withAllImages: false);
        var output = Path.Combine(Folder, "out");
        var (code, _, error) = CliRunner.Run("data", "convert", "--from", "slake", "--input", input, "--out", output);
        Assert.Equal(1, code);
        Assert.Contains("xmlab1/source.jpg", error);

        (code, var stdout, error) = CliRunner.Run("data", "convert", "--from", "slake", "--input", input, "--out", output, "--skip-bad");
        Assert.Equal(0, code);
        Assert.Contains("skipped 3: image 'xmlab1/source.jpg' not found", error);
        Assert.Contains("train.json: 1 records", stdout);
    }

    [Fact]
    public void HubParquetConvertsWithImagesWrittenOnce()
    {
        var input = Path.Combine(Folder, "hub");
        VqaSourceTests.WriteHubFile(Path.Combine(input, "data", "train-00000-of-00002.parquet"), VqaSourceTests.SampleRows);
        VqaSourceTests.WriteHubFile(Path.Combine(input, "data", "train-00001-of-00002.parquet"), VqaSourceTests.SampleRows.Take(1).ToList());
        VqaSourceTests.WriteHubFile(Path.Combine(input, "data", "test-00000-of-00001.parquet"), VqaSourceTests.SampleRows.Skip(1).ToList());
        var output = Path.Combine(Folder, "out");
        var (code, stdout, _) = CliRunner.Run("data", "convert", "--from", "parquet", "--input", input, "--out", output, "--closed-options");
        Assert.Equal(0, code);
        Assert.Contains("train.json: 4 records: CLOSED 3 (yes/no 3), OPEN 1", stdout);
        Assert.Contains("test.json: 2 records: CLOSED 1 (yes/no 1), OPEN 1", stdout);
        Assert.Contains("2 images", stdout);  // the JPEG and the PNG, each stored once
        var train = LlavaSample.ReadJsonArray(Path.Combine(output, "train.json"));
        Assert.Equal(["train_0", "train_1", "train_2", "train_3"], train.Select(s => s.Id));
        Assert.Equal(VqaSourceTests.Jpeg, File.ReadAllBytes(Path.Combine(output, "images", train[3].Image!)));
        Assert.EndsWith(".png", train[1].Image);
        Assert.Empty(ImageCheck.FindMissing(train, Path.Combine(output, "images")));
    }

    [Fact]
    public void PathVqaConvertsFromPickles()
    {
        var input = Path.Combine(Folder, "pvqa");
        Write("pvqa/qas/train_vqa.pkl", Convert.FromBase64String(VqaSourceTests.PathVqaPickleBase64));
        Write("pvqa/images/train/train_0422.jpg", VqaSourceTests.Jpeg);
        Write("pvqa/images/train/train_0007.jpg", VqaSourceTests.Jpeg);
        var result = DownstreamConverter.Convert(new ConvertOptions(VqaSource.PathVqa, input, Path.Combine(Folder, "out")));
        Assert.Equal([new SplitCounts("train", "train.json", 3, 1, 2, 1)], result.Splits);
        Assert.True(File.Exists(Path.Combine(Folder, "out", "images", "train", "train_0422.jpg")));
    }

    [Fact]
    public void UnknownSourceAndMissingInputAreOneLineErrors()
    {
        var (code, _, _) = CliRunner.Run("data", "convert", "--from", "vqa-med", "--input", Folder, "--out", Folder);
        Assert.NotEqual(0, code);
        (code, _, var error) = CliRunner.Run("data", "convert", "--from", "vqa-rad", "--input", Path.Combine(Folder, "none"), "--out", Folder);
        Assert.Equal(1, code);
        Assert.StartsWith("error: input folder not found", error);
        (code, _, error) = CliRunner.Run("data", "convert", "--from", "vqa-rad", "--input", Folder, "--out", Path.Combine(Folder, "o"));
        Assert.Equal(1, code);
        Assert.StartsWith("error: no VqaRad split files", error);
    }
}
