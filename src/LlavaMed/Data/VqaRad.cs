namespace LlavaMed.Data;

/// <summary>A VQA-RAD question as released (Lau et al. 2018): every field of <c>trainset.json</c> / <c>testset.json</c>.
/// <see cref="AnswerType"/> is normalized (two training records say <c>"CLOSED "</c>); numeric answers (<c>4</c>
/// gallstones) become their text.</summary>
public sealed record VqaRadQuestion(long Qid, string ImageName, string? ImageOrgan, string Answer, string AnswerType,
                                    string? QuestionType, string Question, string? PhraseType)
{
    public VqaItem ToVqaItem() => new(Qid.ToString(), ImageName, Question, Answer, AnswerType);
}

/// <summary>The VQA-RAD folder layout: <c>trainset.json</c>, <c>testset.json</c> (the 451-question standard test
/// split) and <c>images/</c>.</summary>
public static class VqaRad
{
    public static readonly IReadOnlyList<(string Split, string File)> SplitFiles = [("train", "trainset.json"), ("test", "testset.json")];
    public const string ImageFolder = "images";

    public static RecordStream<VqaRadQuestion> Read(string path, BadRecordPolicy policy = BadRecordPolicy.Fail) =>
        RecordStream<VqaRadQuestion>.Create(path, policy, () => JsonRecordFile.ReadArrays(path), (node, location) =>
        {
            var fields = new RecordFields(node, path, location);
            return new VqaRadQuestion(fields.Integer("qid"), fields.Text("image_name"), fields.OptionalText("image_organ"),
                                      fields.Text("answer"),
                                      VqaAnswerTypes.Normalize(fields.Text("answer_type"), path, location),
                                      fields.OptionalText("question_type"), fields.Text("question"),
                                      fields.OptionalText("phrase_type"));
        });
}
