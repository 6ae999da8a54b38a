using System.Collections;
using Razorvine.Pickle;

namespace LlavaMed.Data;

/// <summary>A PathVQA question (He et al. 2020). <see cref="AnswerType"/> is the released label (<c>yes/no</c> or
/// <c>other</c>); the downstream record calls <c>yes/no</c> CLOSED, as LLaVA-Med does.</summary>
public sealed record PathVqaQuestion(string QuestionId, string ImageId, string Question, string Answer, string AnswerType,
                                     string? QuestionType)
{
    public VqaItem ToVqaItem(string split) =>
        new(QuestionId, $"{split}/{ImageId}.jpg", Question, Answer,
            AnswerType == "yes/no" ? VqaAnswerTypes.Closed : VqaAnswerTypes.Open);
}

/// <summary>PathVQA's released question files are Python pickles, <c>qas/{train,val,test}_vqa.pkl</c>: a list of
/// dicts with <c>img_id</c> (<c>train_0422</c>), <c>sent</c> (the question), <c>label</c> (answer -> score),
/// <c>answer_type</c>, <c>question_id</c>, <c>question_type</c>; images are <c>images/{split}/{img_id}.jpg</c>.
/// The pickles hold only Python built-ins, which Razorvine.Pickle reads without Python; dicts keyed
/// <c>image</c>/<c>question</c>/<c>answer</c> (as some re-packagings use) are read too. A pickle is loaded whole (a
/// few MB); one that needs Python classes (e.g. numpy values) is reported as unreadable.</summary>
public static class PathVqa
{
    public static readonly IReadOnlyList<(string Split, string File)> SplitFiles =
        [("train", "qas/train_vqa.pkl"), ("val", "qas/val_vqa.pkl"), ("test", "qas/test_vqa.pkl")];
    public const string ImageFolder = "images";

    public static RecordStream<PathVqaQuestion> Read(string path, BadRecordPolicy policy = BadRecordPolicy.Fail) =>
        RecordStream<PathVqaQuestion>.Create(path, policy, () => Records(path), (record, location) => Parse(record, path, location));

    static IEnumerable<SourceRecord<IDictionary>> Records(string path)
    {
        object root;
        using (var stream = File.OpenRead(path))
            try
            {
                root = new Unpickler().load(stream);
            }
            catch (Exception e) when (e is PickleException or InvalidOperationException or IOException)
            {
                throw new DataFormatException(path, "top level", $"cannot read the pickle ({e.Message})");
            }
        if (root is not IList list) throw new DataFormatException(path, "top level", $"expected a list of dicts, found {root?.GetType().Name}");
        for (var i = 0; i < list.Count; i++)
            yield return list[i] is IDictionary record
                ? new SourceRecord<IDictionary>($"[{i}]", record)
                : new SourceRecord<IDictionary>($"[{i}]", null, $"record is a {list[i]?.GetType().Name ?? "None"}, not a dict");
    }

    static PathVqaQuestion Parse(IDictionary record, string path, string location)
    {
        DataFormatException Problem(string problem) => new(path, location, problem);
        string? Text(string key) => record[key] switch
        {
            null => null,
            string s => s,
            int or long => record[key]!.ToString(),
            var other => throw Problem($"'{key}' is a {other.GetType().Name}, not a string"),
        };
        var image = Text("img_id") ?? Text("image") ?? throw Problem("missing 'img_id'");
        var question = Text("sent") ?? Text("question") ?? throw Problem("missing 'sent'");
        var answer = record["label"] is { } label ? BestLabel(label, Problem) : Text("answer") ?? throw Problem("missing 'label'");
        var answerType = Text("answer_type") ?? (VqaAnswerTypes.IsYesNo(answer) ? "yes/no" : "other");
        return new PathVqaQuestion(Text("question_id") ?? $"{image}{location}", image, question, answer, answerType,
                                   Text("question_type"));
    }

    /// <summary><c>label</c> maps answers to scores; the answer is the top-scored one, and a tie is an error rather
    /// than a silent pick (the reference takes the dict's first key).</summary>
    static string BestLabel(object label, Func<string, DataFormatException> problem)
    {
        if (label is not IDictionary scores || scores.Count == 0) throw problem("'label' is not a non-empty dict of answer scores");
        var ranked = scores.Cast<DictionaryEntry>()
            .Select(e => (Answer: e.Key as string ?? throw problem("a 'label' key is not a string"), Score: Convert.ToDouble(e.Value)))
            .OrderByDescending(e => e.Score).ToList();
        if (ranked.Count > 1 && ranked[0].Score == ranked[1].Score)
            throw problem($"'label' has tied top answers '{ranked[0].Answer}' and '{ranked[1].Answer}'");
        return ranked[0].Answer;
    }
}
