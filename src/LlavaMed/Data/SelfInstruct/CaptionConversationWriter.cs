using System.Text.RegularExpressions;

namespace LlavaMed.Data.SelfInstruct;

/// <summary>The default synthetic writer: a 2-3 turn conversation built only from the caption's own sentences
/// (and, when the request carries them, one turn from the inline mentions), so every answer is a statement the
/// figure's authors made. Questions are chosen from what a sentence is about (the kind of image, arrows, stains,
/// what the figure shows); answers are the sentences themselves, lightly tidied (citation brackets, tokenised
/// spacing, figure references removed). It is deterministic and makes no claim beyond the caption: a stand-in
/// for GPT-4 that keeps the pipeline and its data format honest offline, not a substitute for its language.</summary>
public sealed partial class CaptionConversationWriter : ISyntheticConversationWriter
{
    public string Name => "synthetic-caption-v1";

    /// <summary>Kinds of image, recognised by keywords in the caption, as the answer names them.</summary>
    static readonly (Regex Pattern, string Kind)[] ImageKinds =
    [
        (new(@"\b(chest )?(x-?ray|radiograph)", RegexOptions.IgnoreCase), "an X-ray (radiograph)"),
        (new(@"\b(CT|computed tomograph|tomogram)", RegexOptions.None), "a computed tomography (CT) image"),
        (new(@"\b(MRI|MR image|magnetic resonance|T[12]-weighted|FLAIR)", RegexOptions.None), "a magnetic resonance imaging (MRI) scan"),
        (new(@"\b(ultrasound|sonograph|echocardiogra)", RegexOptions.IgnoreCase), "an ultrasound image"),
        (new(@"\b(H\s?&\s?E|hematoxylin|haematoxylin|immunohistochem|histolog|micrograph|magnification|stain)", RegexOptions.IgnoreCase), "a microscopy image of a tissue section"),
        (new(@"\b(gross|resected specimen|cut surface)", RegexOptions.IgnoreCase), "a photograph of a gross specimen"),
    ];

    public IReadOnlyList<ConversationPair> Write(FigureCaptionRecord figure)
    {
        var sentences = Sentences(figure.FigCaption);
        var pairs = new List<ConversationPair>();
        var kind = ImageKinds.FirstOrDefault(k => k.Pattern.IsMatch(figure.FigCaption)).Kind;
        if (kind is not null) pairs.Add(new("What type of image is this?", $"This appears to be {kind}."));
        if (sentences.Count > 0) pairs.Add(new("What does the image show?", sentences[0]));
        foreach (var sentence in sentences.Skip(1))
        {
            if (pairs.Count >= 3) break;
            pairs.Add(new(QuestionAbout(sentence, pairs), sentence));
        }
        // A one-sentence caption without a recognised kind: ask about the features it lists.
        if (pairs.Count < 2 && sentences.Count == 1 && FeatureClause().Match(sentences[0]) is { Success: true } clause)
            pairs.Add(new("Which features stand out?", "The image shows " + LowerFirstWord(Tidy(clause.Groups["rest"].Value))));
        if (MentionPair(figure, sentences) is { } mention) pairs.Add(mention);
        return pairs;
    }

    /// <summary>A turn from the text that cites the figure, when the request carried inline mentions: the first
    /// mention long enough to say something and not already contained in <paramref name="alreadySaid"/>, as prose.</summary>
    public static ConversationPair? MentionPair(FigureCaptionRecord figure, IReadOnlyCollection<string> alreadySaid)
    {
        var mention = figure.InTextMentions.Select(Detokenize).FirstOrDefault(m => m.Length > 20
                                                   && !alreadySaid.Any(s => s.Contains(m, StringComparison.OrdinalIgnoreCase)));
        return mention is null ? null : new ConversationPair("Is there anything else worth noting in the image?", mention);
    }

    static string QuestionAbout(string sentence, List<ConversationPair> asked)
    {
        string[] candidates = Regex.IsMatch(sentence, @"\barrow", RegexOptions.IgnoreCase) ? ["What do the arrows indicate?"]
            : Regex.IsMatch(sentence, @"\b(stain|staining|immunoreactiv|positive)", RegexOptions.IgnoreCase) ? ["What does the staining reveal?"]
            : Regex.IsMatch(sentence, @"\b(panel|\([A-H]\)|[A-H]\))", RegexOptions.None) ? ["What do the other panels show?"]
            : ["What other findings are visible?", "Is there anything else notable?"];
        return candidates.FirstOrDefault(q => asked.All(p => p.Question != q))
               ?? "Can you point out another detail in the image?";
    }

    /// <summary>Caption sentences, tidied; fragments too short to answer anything (panel letters) are dropped.</summary>
    internal static IReadOnlyList<string> Sentences(string caption) =>
        SentenceBreak().Split(caption.Trim()).Select(Tidy).Where(s => s.Count(char.IsLetter) >= 12).ToList();

    static string Tidy(string text)
    {
        var tidy = Citation().Replace(text, "");
        tidy = Regex.Replace(tidy, @"\s+", " ").Trim();
        if (tidy.Length == 0) return tidy;
        tidy = char.ToUpperInvariant(tidy[0]) + tidy[1..];
        return tidy.EndsWith('.') || tidy.EndsWith('!') || tidy.EndsWith('?') ? tidy : tidy + ".";
    }

    /// <summary>"Swelling of ..." to "swelling of ...", leaving acronyms ("MRI") alone.</summary>
    static string LowerFirstWord(string text) =>
        text.Length > 1 && char.IsUpper(text[0]) && char.IsLower(text[1]) ? char.ToLowerInvariant(text[0]) + text[1..] : text;

    /// <summary>PubMed's tokenised mention text ("cells ( Figure 2 ) .") back to prose, without the figure
    /// reference.</summary>
    static string Detokenize(string mention)
    {
        var text = FigureReference().Replace(mention, "");
        text = Regex.Replace(text, @"\s+([,.;:)\]])", "$1");
        text = Regex.Replace(text, @"([(\[])\s+", "$1");
        return Tidy(text);
    }

    // A sentence ends at . ! ? followed by space and a capital, not after abbreviations like "Fig." or "e.g.".
    [GeneratedRegex(@"(?<!\b(?:Fig|Figs|e\.g|i\.e|et al|vs|No|approx|ca))(?<=[.!?])\s+(?=[A-Z(])")]
    private static partial Regex SentenceBreak();

    [GeneratedRegex(@"\s*\[\s*\d+(?:\s*[-–,]\s*\d+)*\s*\]")]
    private static partial Regex Citation();

    [GeneratedRegex(@"\(\s*(?:see\s+)?(?:Fig(?:ure)?s?\.?|figure)\s*[\w\s,.-]*?\)", RegexOptions.IgnoreCase)]
    private static partial Regex FigureReference();

    [GeneratedRegex(@"\b(?:showing|shows|demonstrating|demonstrates|revealing|reveals|with)\s+(?<rest>.+)$")]
    private static partial Regex FeatureClause();
}
