using System.Text.Json.Nodes;
using LlavaMed.Data;

namespace LlavaMed.Evaluation;

/// <summary>The metric sets of one evaluation; a set not asked for is null.</summary>
public sealed record VqaReport(LlavaMedV1Scores? LlavaMedV1, StrictScores? Strict)
{
    /// <summary><c>{"llava-med-v1": {...}, "strict": {...}}</c> with the sets computed.</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject();
        if (LlavaMedV1 is not null) json[LlavaMedV1Metrics.Name] = LlavaMedV1.ToJson();
        if (Strict is not null) json[StrictMetrics.Name] = Strict.ToJson();
        return json;
    }
}

/// <summary>Which metric sets to compute.</summary>
[Flags]
public enum VqaMetricSets
{
    LlavaMedV1 = 1,
    Strict = 2,
    All = LlavaMedV1 | Strict,
}

/// <summary>Scores a LLaVA answer file against LLaVA-Med downstream ground truth (VQA-RAD, SLAKE, PathVQA).</summary>
public static class VqaEvaluation
{
    /// <summary>Parses "llava-med-v1", "strict" or "all".</summary>
    public static VqaMetricSets ParseMetricSets(string name) => name switch
    {
        LlavaMedV1Metrics.Name => VqaMetricSets.LlavaMedV1,
        StrictMetrics.Name => VqaMetricSets.Strict,
        "all" => VqaMetricSets.All,
        _ => throw new ArgumentException($"unknown metric set '{name}' (expected {LlavaMedV1Metrics.Name}, {StrictMetrics.Name} or all)"),
    };

    /// <summary>Pairs ground truth and predictions by position after checking that the id lists are equal, as
    /// LLaVA-Med's scripts do (an answer file in another order is an error, not silently re-paired). The reference
    /// answer is the second conversation turn, as the scripts take it. The names locate errors (file paths in the
    /// CLI).</summary>
    public static IReadOnlyList<ScoredPair> Pair(IReadOnlyList<LlavaSample> groundTruth, IReadOnlyList<AnswerRecord> predictions,
                                                 string groundTruthName = "ground truth", string predictionsName = "predictions")
    {
        if (groundTruth.Count == 0) throw new DataFormatException(groundTruthName, "top level", "no records");
        if (predictions.Count == 0) throw new DataFormatException(predictionsName, "line 1", "no answers");
        int common = Math.Min(groundTruth.Count, predictions.Count);
        for (int i = 0; i < common; i++)
            if (groundTruth[i].Id != predictions[i].QuestionId)
                throw new DataFormatException(predictionsName, Where(predictions, i),
                    $"question_id '{predictions[i].QuestionId}' does not match id '{groundTruth[i].Id}' of {groundTruthName} [{i}]; "
                    + "answers must be in the ground truth's order");
        if (groundTruth.Count != predictions.Count)
            throw groundTruth.Count > predictions.Count
                ? new DataFormatException(predictionsName, $"end (after {Where(predictions, common - 1)})",
                    $"{predictions.Count} answers for {groundTruth.Count} questions; first missing id '{groundTruth[common].Id}'")
                : new DataFormatException(predictionsName, Where(predictions, common),
                    $"{predictions.Count} answers for {groundTruth.Count} questions; extra question_id '{predictions[common].QuestionId}'");
        return groundTruth.Select((sample, i) =>
        {
            if (sample.Conversations.Count < 2)
                throw new DataFormatException(groundTruthName, $"[{i}]", "needs a second conversation turn (the answer)");
            return new ScoredPair(sample.Id, sample.AnswerType, sample.Conversations[1].Value, predictions[i].Text);
        }).ToList();
    }

    static string Where(IReadOnlyList<AnswerRecord> predictions, int index) =>
        predictions[index].Line > 0 ? $"line {predictions[index].Line}" : $"answer {index + 1}";

    /// <summary>Scores <paramref name="predictions"/> against <paramref name="groundTruth"/>.
    /// <paramref name="openCandidates"/> (the training set's open answers, LLaVA-Med's train_open_answers.json)
    /// adds run_eval.py's candidate-matching open accuracy.</summary>
    public static VqaReport Evaluate(IReadOnlyList<LlavaSample> groundTruth, IReadOnlyList<AnswerRecord> predictions,
                                     VqaMetricSets metrics = VqaMetricSets.All, IReadOnlyList<string>? openCandidates = null,
                                     string groundTruthName = "ground truth", string predictionsName = "predictions")
    {
        var pairs = Pair(groundTruth, predictions, groundTruthName, predictionsName);
        return new VqaReport(
            metrics.HasFlag(VqaMetricSets.LlavaMedV1) ? LlavaMedV1Metrics.Score(pairs, openCandidates) : null,
            metrics.HasFlag(VqaMetricSets.Strict) ? StrictMetrics.Score(pairs) : null);
    }

    /// <summary>Reads LLaVA-Med's train_open_answers.json: <c>{"0": [answer, ...]}</c> (numbers allowed), or a
    /// plain JSON array of answers.</summary>
    public static IReadOnlyList<string> ReadOpenCandidates(string path)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new DataFormatException(path, $"line {e.LineNumber + 1}", $"invalid JSON ({e.Message})");
        }
        var list = (root is JsonObject obj ? obj["0"] : root) as JsonArray
                   ?? throw new DataFormatException(path, "top level", "expected {\"0\": [answers]} or a JSON array of answers");
        var answers = list.Select((node, i) => node is JsonValue value
            ? value.TryGetValue<string>(out var s) ? s : value.ToJsonString()
            : throw new DataFormatException(path, $"[{i}]", "answer is not a string or number")).ToList();
        if (answers.Count == 0) throw new DataFormatException(path, "top level", "no candidate answers");
        return answers;
    }
}
