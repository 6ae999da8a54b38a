namespace LlavaMed.Data;

/// <summary>A SLAKE question (Liu et al. 2021): the fields of <c>train.json</c> / <c>validate.json</c> /
/// <c>test.json</c>. <see cref="ImgName"/> is relative to <c>imgs/</c> (<c>xmlab102/source.jpg</c>).</summary>
public sealed record SlakeQuestion(long Qid, long? ImgId, string ImgName, string Question, string Answer, string AnswerType,
                                   string QLang, string? Modality, string? Location, string? ContentType, string? BaseType,
                                   IReadOnlyList<string>? Triple)
{
    public VqaItem ToVqaItem() => new(Qid.ToString(), ImgName, Question, Answer, AnswerType);
}

/// <summary>The SLAKE 1.0 folder layout. SLAKE is bilingual; LLaVA-Med and most papers use the English questions
/// (<c>q_lang == "en"</c>), so the reader excludes the others by default and counts them in the report.</summary>
public static class Slake
{
    public static readonly IReadOnlyList<(string Split, string File)> SplitFiles =
        [("train", "train.json"), ("val", "validate.json"), ("test", "test.json")];
    public const string ImageFolder = "imgs";

    public static RecordStream<SlakeQuestion> Read(string path, BadRecordPolicy policy = BadRecordPolicy.Fail, bool englishOnly = true) =>
        RecordStream<SlakeQuestion>.Create(path, policy, () => JsonRecordFile.ReadArrays(path), (node, location) =>
        {
            var fields = new RecordFields(node, path, location);
            var language = fields.Text("q_lang");
            if (englishOnly && language != "en") return null;
            return new SlakeQuestion(fields.Integer("qid"), fields.Has("img_id") ? fields.Integer("img_id") : null,
                                     fields.Text("img_name"), fields.Text("question"), fields.Text("answer"),
                                     VqaAnswerTypes.Normalize(fields.Text("answer_type"), path, location), language,
                                     fields.OptionalText("modality"), fields.OptionalText("location"),
                                     fields.OptionalText("content_type"), fields.OptionalText("base_type"),
                                     fields.OptionalTextList("triple"));
        }, englishOnly ? "q_lang is not \"en\"" : null);
}
