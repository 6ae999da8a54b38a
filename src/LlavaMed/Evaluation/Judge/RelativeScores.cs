using System.Text.Json.Nodes;

namespace LlavaMed.Evaluation.Judge;

/// <summary>One column of the paper's Table 4: how many questions, the judge's mean score for the reference
/// (GPT-4) and for the model, and the relative score.</summary>
public sealed record RelativeScoreRow(string Category, int Count, double ReferenceScore, double ModelScore,
                                      double RelativeScore, double RatioOfMeans)
{
    public JsonObject ToJson() => new()
    {
        ["category"] = Category,
        ["data_size"] = Count,
        ["gpt4_score"] = ReferenceScore,
        ["pred_score"] = ModelScore,
        ["pred_relative_score"] = RelativeScore,
        ["ratio_of_means"] = RatioOfMeans,
    };
}

/// <summary>The summary of <c>summarize_gpt_review.py</c>. Relative score = 100 x the MEAN OF THE PER-QUESTION
/// RATIOS model/reference (not the ratio of the mean scores; both are reported, the first is the paper's number).
/// Categories, in the paper's column order: conversation, detailed_description (the question <c>type</c>), the
/// domains chest_xray, mri, histology, gross, ct_scan (each question counts once, under its first true flag in
/// that order), then overall. Reviews without scores are left out of every category (the reference would crash),
/// and so are reviews whose reference score is 0, where the ratio is undefined; both are counted in
/// <see cref="Excluded"/>.</summary>
public static class RelativeScores
{
    public static readonly IReadOnlyList<string> Columns =
        ["conversation", "detailed_description", "chest_xray", "mri", "histology", "gross", "ct_scan", "overall"];

    public static IReadOnlyList<RelativeScoreRow> Summarize(IEnumerable<ChatReview> reviews)
    {
        var usable = reviews.Where(r => r.Scored && r.ReferenceScore > 0).ToList();
        var rows = new List<RelativeScoreRow>();
        foreach (var category in Columns)
        {
            var members = category == "overall" ? usable
                : usable.Where(r => r.Type == category || r.Domain == category).ToList();
            if (members.Count > 0) rows.Add(Row(category, members));
        }
        // Types outside the paper's two (a custom question set) still get their own row.
        foreach (var type in usable.Select(r => r.Type).Distinct().Where(t => !Columns.Contains(t)).Order())
            rows.Insert(rows.Count - 1, Row(type, usable.Where(r => r.Type == type).ToList()));
        return rows;
    }

    /// <summary>Reviews left out of the summary: no scores, or a reference score of 0.</summary>
    public static int Excluded(IEnumerable<ChatReview> reviews) => reviews.Count(r => !r.Scored || r.ReferenceScore <= 0);

    static RelativeScoreRow Row(string category, IReadOnlyList<ChatReview> members)
    {
        var reference = members.Average(r => r.ReferenceScore!.Value);
        var model = members.Average(r => r.ModelScore!.Value);
        var meanOfRatios = members.Average(r => r.ModelScore!.Value / r.ReferenceScore!.Value) * 100;
        return new RelativeScoreRow(category, members.Count, reference, model, meanOfRatios, model / reference * 100);
    }
}
