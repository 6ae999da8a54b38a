using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlavaMed.Data.SelfInstruct;

/// <summary>A question/answer pair removed by <see cref="CleaningRules.Clean"/> and why.</summary>
public sealed record DroppedPair(ConversationPair Pair, string Reason);

public sealed record CleanedConversation(IReadOnlyList<ConversationPair> Kept, IReadOnlyList<DroppedPair> Dropped);

/// <summary>The post-processing of LLaVA-Med's <c>instruct_postprocess.py</c> (<c>clean_conv</c>), with its phrase
/// lists as data (<c>data/prompts/self-instruct-cleaning.json</c>). For each pair, in order:
/// <list type="number">
/// <item>a refusal phrase anywhere in the answer (case-insensitive) drops the pair;</item>
/// <item>the first matching lead-in prefix (case-insensitive, e.g. "based on the caption, ") is cut and the next
/// letter upper-cased;</item>
/// <item>every inline phrase (case-sensitive, e.g. ", as mentioned in the caption") is deleted;</item>
/// <item>a forbidden word left in the answer (case-sensitive: "description", "caption") drops the pair;</item>
/// <item>a forbidden word in the question (case-insensitive; our addition, empty list = the reference) drops it.</item>
/// </list>
/// Deliberate differences from the reference, each a bug fix: its prefixes were compared to the lower-cased
/// answer, so the ones containing capitals never matched (here all match); it applied Python's
/// <c>str.capitalize</c>, which lower-cases the rest of the answer ("CT" became "ct"); and after a prefix matched it
/// skipped the inline phrases.</summary>
public sealed record CleaningRules(
    [property: JsonPropertyName("refusal_phrases")] IReadOnlyList<string> RefusalPhrases,
    [property: JsonPropertyName("lead_in_prefixes")] IReadOnlyList<string> LeadInPrefixes,
    [property: JsonPropertyName("inline_phrases")] IReadOnlyList<string> InlinePhrases,
    [property: JsonPropertyName("forbidden_words")] IReadOnlyList<string> ForbiddenWords,
    [property: JsonPropertyName("question_forbidden_words")] IReadOnlyList<string> QuestionForbiddenWords)
{
    public static CleaningRules Load(string? path = null)
    {
        var source = PromptResources.Source(PromptResources.SelfInstructCleaning, path);
        try
        {
            var rules = JsonSerializer.Deserialize<CleaningRules>(PromptResources.Read(PromptResources.SelfInstructCleaning, path));
            if (rules is null || rules.RefusalPhrases is null || rules.LeadInPrefixes is null || rules.InlinePhrases is null
                || rules.ForbiddenWords is null)
                throw new DataFormatException(source, "top level",
                    "expected refusal_phrases, lead_in_prefixes, inline_phrases, forbidden_words (and optional question_forbidden_words)");
            // Longest prefix first, so "yes, according to the description, " wins over "according to the description, ".
            return rules with
            {
                LeadInPrefixes = rules.LeadInPrefixes.OrderByDescending(p => p.Length).ToList(),
                QuestionForbiddenWords = rules.QuestionForbiddenWords ?? [],
            };
        }
        catch (JsonException e)
        {
            throw new DataFormatException(source, $"line {e.LineNumber + 1}", $"invalid rules JSON ({e.Message})");
        }
    }

    public CleanedConversation Clean(IEnumerable<ConversationPair> pairs)
    {
        var kept = new List<ConversationPair>();
        var dropped = new List<DroppedPair>();
        foreach (var pair in pairs)
        {
            var (cleaned, reason) = CleanPair(pair);
            if (cleaned is not null) kept.Add(cleaned);
            else dropped.Add(new DroppedPair(pair, reason!));
        }
        return new CleanedConversation(kept, dropped);
    }

    public (ConversationPair? Kept, string? Reason) CleanPair(ConversationPair pair)
    {
        var answer = pair.Answer;
        if (RefusalPhrases.FirstOrDefault(p => answer.Contains(p, StringComparison.OrdinalIgnoreCase)) is { } refusal)
            return (null, $"refusal: \"{refusal}\"");
        // A cut at the start leaves a lower-case word ("the lesion ..."): only then is the first letter raised.
        bool cutAtStart = false;
        if (LeadInPrefixes.FirstOrDefault(p => answer.StartsWith(p, StringComparison.OrdinalIgnoreCase)) is { } prefix)
        {
            answer = answer[prefix.Length..];
            cutAtStart = true;
        }
        foreach (var phrase in InlinePhrases)
        {
            cutAtStart |= answer.StartsWith(phrase, StringComparison.Ordinal);
            answer = answer.Replace(phrase, "", StringComparison.Ordinal);
        }
        answer = answer.Trim();
        if (cutAtStart) answer = UpperFirst(answer);
        if (answer.Length == 0) return (null, "answer empty after cleaning");
        if (ForbiddenWords.FirstOrDefault(w => answer.Contains(w, StringComparison.Ordinal)) is { } word)
            return (null, $"answer mentions \"{word}\"");
        if (QuestionForbiddenWords.FirstOrDefault(w => pair.Question.Contains(w, StringComparison.OrdinalIgnoreCase)) is { } asked)
            return (null, $"question mentions \"{asked}\"");
        return (pair with { Answer = answer }, null);
    }

    static string UpperFirst(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];
}
