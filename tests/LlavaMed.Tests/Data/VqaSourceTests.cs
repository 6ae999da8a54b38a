using System.Collections;
using System.Text.Json.Serialization;
using LlavaMed.Data;
using Parquet.Serialization;
using Razorvine.Pickle;

namespace LlavaMed.Tests.Data;

/// <summary>VQA-RAD, SLAKE, PathVQA and hub Parquet readers on small files in the released shapes.</summary>
public sealed class VqaSourceTests : TemporaryFolder
{
    [Fact]
    public void VqaRadNormalizesTrailingSpacesAndNumericAnswers()
    {
        var path = Write("trainset.json", """
            [{"qid": 3371, "image_name": "synpic35191.jpg", "image_organ": "HEAD", "answer": "Maybe", "answer_type": "CLOSED ", "question_type": "OTHER", "question": "Is this an infectious process?", "phrase_type": "freeform"},
             {"qid": 2392, "image_name": "synpic28210.jpg", "image_organ": "ABD", "answer": 4, "answer_type": "OPEN", "question_type": "COUNT", "question": "How many gallstones are identified?", "phrase_type": "para"}]
            """);
        var questions = VqaRad.Read(path).ToList();
        Assert.Equal("CLOSED", questions[0].AnswerType);
        Assert.Equal("4", questions[1].Answer);
        Assert.Equal(new VqaRadQuestion(2392, "synpic28210.jpg", "ABD", "4", "OPEN", "COUNT", "How many gallstones are identified?", "para"),
                     questions[1]);
        Assert.False(questions[0].ToVqaItem().IsYesNo);  // closed but answered "Maybe"
    }

    [Fact]
    public void UnknownAnswerTypeIsABadRecord()
    {
        var path = Write("testset.json", """
            [{"qid": 1, "image_name": "a.jpg", "answer": "yes", "answer_type": "CLOSE", "question": "Q?"}]
            """);
        var error = Assert.Throws<DataFormatException>(() => VqaRad.Read(path).ToList());
        Assert.Equal("[0] (line 1)", error.Location);
        Assert.Contains("neither CLOSED nor OPEN", error.Problem);
    }

    [Fact]
    public void SlakeKeepsEnglishQuestionsAndCountsTheOthers()
    {
        var path = Write("validate.json", """
            [
              {"img_id": 384, "img_name": "xmlab384/source.jpg", "question": "What scanning plane does this image belong to?", "answer": "Coronal Plane", "q_lang": "en", "location": "Lung", "modality": "X-Ray", "answer_type": "OPEN", "base_type": "vqa", "content_type": "Plane", "triple": ["vhead", "_", "_"], "qid": 2725},
              {"img_id": 384, "img_name": "xmlab384/source.jpg", "question": "这张图片属于哪个扫描平面？", "answer": "冠状面", "q_lang": "zh", "location": "肺", "modality": "X-Ray", "answer_type": "OPEN", "base_type": "vqa", "content_type": "Plane", "triple": ["vhead", "_", "_"], "qid": 12725},
              {"img_id": 0, "img_name": "xmlab0/source.jpg", "question": "Does the picture contain liver?", "answer": "Yes", "q_lang": "en", "location": "Abdomen", "modality": "MRI", "answer_type": "CLOSED", "base_type": "vqa", "content_type": "Organ", "triple": ["vhead", "_", "_"], "qid": 9836}
            ]
            """);
        var stream = Slake.Read(path);
        var questions = stream.ToList();
        Assert.Equal([2725L, 9836L], questions.Select(q => q.Qid));
        Assert.Equal((3, 2, 1), (stream.Report.Read, stream.Report.Accepted, stream.Report.Excluded));
        Assert.Contains("q_lang", stream.Report.ExclusionReason);
        Assert.Equal(("Lung", "X-Ray", "Plane"), (questions[0].Location, questions[0].Modality, questions[0].ContentType));
        Assert.Equal(["vhead", "_", "_"], questions[0].Triple!);
        Assert.True(questions[1].ToVqaItem().IsYesNo);
        Assert.Equal(3, Slake.Read(path, englishOnly: false).Count());
    }

    // pickle.dumps(records, protocol=4) by CPython 3 of three records in PathVQA's qas/*_vqa.pkl shape
    // (keys answer_type, img_id, label {answer: score}, question_id, question_type, sent).
    internal const string PathVqaPickleBase64 =
        "gASVVwEAAAAAAABdlCh9lCiMC2Fuc3dlcl90eXBllIwFb3RoZXKUjAZpbWdfaWSUjAp0cmFpbl8wNDIylIwFbGFiZWyUfZSMC25ldXRyb3BoaWxzlEsBc4wLcXVlc3Rpb25faWSUSnBR/AWMDXF1ZXN0aW9uX3R5cGWUjAR3aGF0lIwEc2VudJSMHFdoYXQgaGF2ZSBsb3N0IHRoZWlyIG51Y2xlaT+UdX2UKGgCjAZ5ZXMvbm+UaARoBWgGfZSMA3llc5RLAXNoCUpxUfwFaApoD2gMjC1JcyB0aGlzIGEgcGhvdG9taWNyb2dyYXBoIG9mIGluZmxhbWVkIHRpc3N1ZT+UdX2UKGgCaANoBIwKdHJhaW5fMDAwN5RoBn2UjAZmaWJyaW6URz/wAAAAAAAAc2gJSlj89QVoCowDaG93lGgMjBhIb3cgaXMgZmlicmluIGRlcG9zaXRlZD+UdWUu";

    [Fact]
    public void PathVqaPicklesAreReadWithoutPython()
    {
        var path = Write("qas/train_vqa.pkl", Convert.FromBase64String(PathVqaPickleBase64));
        var questions = PathVqa.Read(path).ToList();
        Assert.Equal(3, questions.Count);
        Assert.Equal(new PathVqaQuestion("100422000", "train_0422", "What have lost their nuclei?", "neutrophils", "other", "what"), questions[0]);
        Assert.Equal("fibrin", questions[2].Answer);  // score given as a float
        var item = questions[1].ToVqaItem("train");
        Assert.Equal(("train/train_0422.jpg", "CLOSED", "yes"), (item.Image, item.AnswerType, item.Answer));
        Assert.Equal("OPEN", questions[0].ToVqaItem("train").AnswerType);
    }

    [Fact]
    public void PathVqaTiedLabelsAreBadRecordsAndPlainDictsAreRead()
    {
        var records = new ArrayList
        {
            new Hashtable { ["img_id"] = "val_0001", ["sent"] = "What is shown?", ["answer_type"] = "other", ["question_id"] = 7,
                            ["label"] = new Hashtable { ["fibrosis"] = 1, ["necrosis"] = 1 } },
            new Hashtable { ["image"] = "val_0002", ["question"] = "Is there necrosis?", ["answer"] = "no" },
        };
        var path = Write("qas/val_vqa.pkl", new Pickler().dumps(records));
        var error = Assert.Throws<DataFormatException>(() => PathVqa.Read(path).ToList());
        Assert.Equal("[0]", error.Location);
        Assert.Contains("tied top answers", error.Problem);
        var stream = PathVqa.Read(path, BadRecordPolicy.SkipAndReport);
        var question = Assert.Single(stream.ToList());
        Assert.Equal(("val_0002", "no", "yes/no"), (question.ImageId, question.Answer, question.AnswerType));
        Assert.Equal(1, stream.Report.Skipped);
    }

    [Fact]
    public void PathVqaRejectsANonPickle()
    {
        var path = Write("qas/test_vqa.pkl", "not a pickle");
        var error = Assert.Throws<DataFormatException>(() => PathVqa.Read(path).ToList());
        Assert.Contains("cannot read the pickle", error.Message);
    }

    public sealed class HubImage
    {
        [JsonPropertyName("bytes")] public byte[]? Bytes { get; set; }
        [JsonPropertyName("path")] public string? Path { get; set; }
    }

    public sealed class HubRow
    {
        [JsonPropertyName("image")] public HubImage? Image { get; set; }
        [JsonPropertyName("question")] public string? Question { get; set; }
        [JsonPropertyName("answer")] public string? Answer { get; set; }
    }

    internal static readonly byte[] Jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
    internal static readonly byte[] Png = [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, 4, 5];

    internal static void WriteHubFile(string path, IReadOnlyList<HubRow> rows)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        ParquetSerializer.SerializeAsync(rows, path).GetAwaiter().GetResult();
    }

    internal static IReadOnlyList<HubRow> SampleRows =>
    [
        new() { Image = new() { Bytes = Jpeg, Path = "synpic54610.jpg" }, Question = "are regions of the brain infarcted?", Answer = "yes" },
        new() { Image = new() { Bytes = Png, Path = null }, Question = "what type of imaging is this?", Answer = "ct" },
        new() { Image = new() { Bytes = Jpeg, Path = "synpic54610.jpg" }, Question = "is this an axial plane?", Answer = "no" },
    ];

    [Fact]
    public void HubParquetRoundTrip()
    {
        var path = Path.Combine(Folder, "data", "test-00000-of-00001.parquet");
        WriteHubFile(path, SampleRows);
        var rows = HubParquet.Read(path).ToList();
        Assert.Equal(3, rows.Count);
        Assert.Equal(Jpeg, rows[0].ImageBytes);
        Assert.Equal(("synpic54610.jpg", ".jpg"), (rows[0].ImagePath, rows[0].ImageExtension));
        Assert.Equal((null, ".png"), (rows[1].ImagePath, rows[1].ImageExtension));
        Assert.Equal(["yes", "ct", "no"], rows.Select(r => r.Answer));
        Assert.Equal(["CLOSED", "OPEN", "CLOSED"], rows.Select(r => r.ToVqaItem("x", "x.jpg").AnswerType));
        Assert.Equal("test", HubParquet.SplitOf(path));
        Assert.Equal("val", HubParquet.SplitOf("validation-00000-of-00001.parquet"));
    }

    [Fact]
    public void HubRowWithoutImageBytesIsABadRecord()
    {
        var path = Path.Combine(Folder, "train-00000-of-00001.parquet");
        WriteHubFile(path, [SampleRows[0], new() { Image = new() { Bytes = null, Path = "lost.jpg" }, Question = "q", Answer = "a" }]);
        var error = Assert.Throws<DataFormatException>(() => HubParquet.Read(path).ToList());
        Assert.Equal("row 1", error.Location);
        var stream = HubParquet.Read(path, BadRecordPolicy.SkipAndReport);
        Assert.Single(stream.ToList());
        Assert.Equal("no image bytes", Assert.Single(stream.Report.Problems).Problem);
    }

    [Fact]
    public async Task HubFileWithoutAQuestionColumnIsNamed()
    {
        var path = Path.Combine(Folder, "train-00000-of-00001.parquet");
        await ParquetSerializer.SerializeAsync(new[] { new { image = Jpeg, answer = "yes" } }, path,
                                               cancellationToken: TestContext.Current.CancellationToken);
        var error = Assert.Throws<DataFormatException>(() => HubParquet.Read(path).ToList());
        Assert.Contains("no 'question' column", error.Message);
    }
}
