namespace LlavaMed.Data;

/// <summary>One question of a medical VQA set in the shape every source shares: the LLaVA-Med downstream record is
/// built from it (<see cref="DownstreamFormat.ToSample"/>). <see cref="AnswerType"/> is CLOSED or OPEN.</summary>
public sealed record VqaItem(string Id, string Image, string Question, string Answer, string AnswerType)
{
    public bool IsClosed => AnswerType == VqaAnswerTypes.Closed;

    /// <summary>A closed question answered yes or no (case and surrounding spaces ignored): the questions that
    /// LLaVA-Med's closed-set accuracy and the <c>--closed-options</c> suffix concern.</summary>
    public bool IsYesNo => IsClosed && VqaAnswerTypes.IsYesNo(Answer);
}

public static class VqaAnswerTypes
{
    public const string Closed = "CLOSED";
    public const string Open = "OPEN";

    public static bool IsYesNo(string answer) => answer.Trim().ToLowerInvariant() is "yes" or "no";

    /// <summary>CLOSED or OPEN from a source's label, trimmed and case-folded (VQA-RAD has <c>"CLOSED "</c>);
    /// anything else is an error naming the record.</summary>
    public static string Normalize(string value, string path, string location) => value.Trim().ToUpperInvariant() switch
    {
        Closed => Closed,
        Open => Open,
        _ => throw new DataFormatException(path, location, $"answer_type '{value}' is neither CLOSED nor OPEN"),
    };
}
