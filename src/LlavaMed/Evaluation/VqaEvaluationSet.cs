using LlavaMed.Data;
using LlavaMed.Data.Synthetic;

namespace LlavaMed.Evaluation;

/// <summary>What an evaluation needs besides a model: the test questions (LLaVA-Med downstream records), the training
/// questions the baselines learn from, the image root, and the question properties to break scores down by
/// (<see cref="Groupings"/>: grouping name, then question id to group).</summary>
public sealed record VqaEvaluationSet(string Name, IReadOnlyList<LlavaSample> Train, IReadOnlyList<LlavaSample> Test, string ImageRoot,
                                      IReadOnlyDictionary<string, IReadOnlyDictionary<string, string?>> Groupings)
{
    public const string Organ = "organ", QuestionType = "question type", Domain = "domain";

    /// <summary>The group of a test question under <paramref name="grouping"/> (for <see cref="ScoreBreakdown.By"/>).</summary>
    public Func<LlavaSample, string?> GroupOf(string grouping) =>
        ScoreBreakdown.ById(Groupings.TryGetValue(grouping, out var groups) ? groups
            : throw new ArgumentException($"no grouping '{grouping}' in {Name} (has {string.Join(", ", Groupings.Keys)})", nameof(grouping)));

    /// <summary>VQA-RAD as released (<c>trainset.json</c>, <c>testset.json</c>, <c>images/</c>), grouped by
    /// <c>image_organ</c> and <c>question_type</c>. <paramref name="testQuestions"/> (all when null) are taken evenly
    /// spaced through the test file, so a small slice still spans its organs and types. Malformed records fail with
    /// their file and index.</summary>
    public static VqaEvaluationSet FromVqaRad(string folder, int? testQuestions = null) =>
        FromVqaRadFiles("VQA-RAD", Path.Combine(folder, "trainset.json"), Path.Combine(folder, "testset.json"),
                        Path.Combine(folder, VqaRad.ImageFolder), testQuestions);

    /// <summary>The synthetic corpus's VQA split (VQA-RAD's schema), grouped by organ and question type as VQA-RAD is, and
    /// by the figure's domain (chest X-ray, CT, MRI, histology, gross) from its finding record.</summary>
    public static VqaEvaluationSet FromSyntheticCorpus(SyntheticCorpusLayout layout, int? testQuestions = null)
    {
        var set = FromVqaRadFiles("synthetic corpus", layout.VqaTrain, layout.VqaTest, layout.Images, testQuestions);
        var domainOfImage = layout.ReadFindings().ToDictionary(f => f.Image, f => f.Spec.FlagName);
        var domains = set.Test.ToDictionary(q => q.Id, q => q.Image is { } image ? domainOfImage.GetValueOrDefault(image) : null);
        return set with
        {
            Groupings = new Dictionary<string, IReadOnlyDictionary<string, string?>>(set.Groupings) { [Domain] = domains },
        };
    }

    static VqaEvaluationSet FromVqaRadFiles(string name, string trainFile, string testFile, string imageRoot, int? testQuestions)
    {
        if (testQuestions is <= 0) throw new ArgumentOutOfRangeException(nameof(testQuestions), "must be positive");
        var train = VqaRad.Read(trainFile).Select(q => DownstreamFormat.ToSample(q.ToVqaItem(), closedOptions: false)).ToList();
        var test = VqaRad.Read(testFile).ToList();
        var slice = testQuestions is { } count && count < test.Count ? EvenlySpaced(test, count) : test;
        return new VqaEvaluationSet(name, train, slice.Select(q => DownstreamFormat.ToSample(q.ToVqaItem(), closedOptions: false)).ToList(),
            imageRoot, new Dictionary<string, IReadOnlyDictionary<string, string?>>
            {
                [Organ] = slice.ToDictionary(q => q.Qid.ToString(), q => q.ImageOrgan),
                [QuestionType] = slice.ToDictionary(q => q.Qid.ToString(), q => q.QuestionType),
            });
    }

    /// <summary><paramref name="count"/> items at even steps through <paramref name="items"/>, in order.</summary>
    public static IReadOnlyList<T> EvenlySpaced<T>(IReadOnlyList<T> items, int count) =>
        Enumerable.Range(0, Math.Min(count, items.Count)).Select(i => items[(int)((long)i * items.Count / Math.Min(count, items.Count))]).ToList();
}
