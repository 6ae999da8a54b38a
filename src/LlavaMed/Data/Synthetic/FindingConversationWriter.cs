using System.Globalization;
using LlavaMed.Data.SelfInstruct;

namespace LlavaMed.Data.Synthetic;

/// <summary>The offline self-instruct author for the synthetic corpus: it looks the figure up by pair_id in the
/// corpus's <c>findings.json</c> and writes a 4-10 turn conversation whose every answer is the figure's ground truth
/// (modality, organ, finding, side, level, size, count, stain or colour), in varied phrasings. Where GPT-4 read a
/// caption, this writer knows the picture, so stage 2 can teach a model to answer questions about images. The
/// choice of questions and phrasings is a hash of the pair_id: the same figure always gets the same conversation. When
/// the request shows the figure's inline mentions (the paper's 60K-IM data), one more turn comes from them, as
/// <see cref="CaptionConversationWriter"/> adds it.</summary>
public sealed class FindingConversationWriter : ISyntheticConversationWriter
{
    /// <summary>The findings file name the writer expects beside a synthetic captions file's corpus root.</summary>
    public const string FindingsFileName = "findings.json";

    readonly IReadOnlyDictionary<string, FindingRecord> byPairId;

    public FindingConversationWriter(IEnumerable<FindingRecord> findings) =>
        byPairId = findings.ToDictionary(f => f.PairId, StringComparer.Ordinal);

    public string Name => "synthetic-findings-v2";

    /// <summary>The writer for a captions file that belongs to a synthetic corpus (a <c>findings.json</c> in its
    /// folder or the folder above, as <see cref="SyntheticCorpusLayout"/> places them), else null.</summary>
    public static FindingConversationWriter? ForCaptionsFile(string captionsPath)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(captionsPath));
        for (int up = 0; up < 2 && folder is not null; up++, folder = Path.GetDirectoryName(folder))
        {
            var findings = Path.Combine(folder, FindingsFileName);
            if (File.Exists(findings)) return new FindingConversationWriter(FindingRecord.ReadAll(findings));
        }
        return null;
    }

    public IReadOnlyList<ConversationPair> Write(FigureCaptionRecord figure)
    {
        if (!byPairId.TryGetValue(figure.PairId, out var record))
            throw new KeyNotFoundException($"figure '{figure.PairId}' is not in the corpus's findings (a captions file of another corpus?)");
        var pairs = Write(record);
        return CaptionConversationWriter.MentionPair(figure, pairs.Select(p => p.Answer).ToList()) is { } mention ? [.. pairs, mention] : pairs;
    }

    public static IReadOnlyList<ConversationPair> Write(FindingRecord record)
    {
        var random = new Random(StableHash(record.PairId));
        string Pick(params string[] options) => options[random.Next(options.Length)];
        var spec = record.Spec;
        var finding = record.FindingSpec;
        var pairs = new List<ConversationPair>
        {
            new(Pick("What type of image is this?", "What imaging modality was used?", "What kind of image is shown?"),
                Pick($"This is {FigureText.WithArticle(spec.ModalityPhrase)} ({record.Modality}) of the {record.Anatomy}.",
                     $"The image is {FigureText.WithArticle(record.Modality)} image of the {record.Anatomy}, {FigureText.WithArticle(spec.ModalityPhrase)}.")),
        };
        if (finding is null)
        {
            pairs.Add(new(Pick("What is the main finding in this image?", "Is there any abnormality?", "What does the image show?"),
                          Pick($"The {record.Anatomy} appears normal; no abnormality is seen.",
                               $"No abnormality is visible. The image is normal.")));
            pairs.Add(new(Pick("Is this image normal?", $"Does the {record.Anatomy} look normal?"), $"Yes, the {record.Anatomy} looks normal."));
        }
        else
        {
            var several = finding.Countable && record.Count > 1;
            var subject = several ? finding.Plural : finding.Key;
            var be = FigureText.IsPlural(subject) ? "are" : "is";
            var shown = several ? $"{NumberWord(record.Count)} {finding.Plural}" : FigureText.WithArticle(finding.Key);
            var where = record.Location is null ? "" : $" in the {record.Location}";
            pairs.Add(new(Pick("What is the main finding in this image?", "What abnormality can be seen?", "What does the image show?"),
                          Pick($"The image shows {shown}{where}.", $"There {be} {shown}{where}. The main finding is {finding.Key}.")));
            if (record.Location is not null)
                pairs.Add(new(Pick($"Where is the {finding.Key}?", $"Where {be} the {subject} located?"),
                              Pick($"The {subject} {be} in the {record.Location}.", $"It is located in the {record.Location}.")));
            if (record.Laterality is not null)
                pairs.Add(new(Pick($"Which side is the {finding.Key} on?", $"Is the {finding.Key} on the left or right side?"),
                              $"The {finding.Key} is on the {record.Laterality} side."));
            if (record.Size is not null)
                pairs.Add(new(Pick($"How large is the {finding.Key}?", $"Is the {finding.Key} small or large?"),
                              Pick($"The {subject} {be} {record.Size}.", $"It appears {record.Size}.")));
            if (finding.Countable)
                pairs.Add(new(Pick($"How many {finding.Plural} are there?", $"How many {finding.Plural} can be seen?"),
                              record.Count == 1 ? $"There is 1 {finding.Key}." : $"There are {record.Count.ToString(CultureInfo.InvariantCulture)} {finding.Plural}."));
            if (record.Domain == BiomedicalDomain.Gross)
                pairs.Add(new(Pick($"What color is the {finding.Key}?", $"Describe the color of the {finding.Key}."),
                              $"The {finding.Key} is {record.Appearance}."));
        }
        // Yes/no questions, as GPT-4's conversations ask them: about the true finding or another of the domain,
        // and about the true modality or another domain's.
        var asked = random.Next(2) == 0 && finding is not null ? finding.Key : spec.Findings[random.Next(spec.Findings.Count)].Key;
        var askedPhrase = FigureText.WithArticle(asked);
        pairs.Add(new(Pick($"Does the image show {askedPhrase}?", $"Is there evidence of {askedPhrase}?"),
                      asked == record.Finding
                          ? $"Yes, there {(FigureText.IsPlural(asked) ? "are" : "is")} {asked} in the image."
                          : $"No, there is no {asked}. {(finding is null ? "The image is normal." : $"The main finding is {finding.Key}.")}"));
        var otherModality = DomainCatalog.Domains[random.Next(DomainCatalog.Domains.Count)].Modality;
        pairs.Add(new(Pick($"Was this image taken with {ModalityNoun(otherModality)}?", $"Is this {ModalityNoun(otherModality)}?"),
                      otherModality == record.Modality ? $"Yes, this is {ModalityNoun(record.Modality)}."
                                                       : $"No, this is {ModalityNoun(record.Modality)}, not {ModalityNoun(otherModality)}."));
        if (record.Domain == BiomedicalDomain.Histology)
            pairs.Add(new(Pick("What stain is used?", "How was this section stained?"),
                          $"The section is stained with {record.Appearance}, {DomainCatalog.StainName(record.Appearance!)}."));
        // Any question may come first: a fixed order would teach a model to answer every first question alike.
        random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(pairs));
        return pairs;
    }

    /// <summary>The modality as a noun phrase ("an MRI", "a CT scan").</summary>
    public static string ModalityNoun(string modality) => modality switch
    {
        "x-ray" => "an x-ray",
        "ct" => "a CT scan",
        "mri" => "an MRI",
        "microscopy" => "a microscopy image",
        _ => "a photograph",
    };

    static string NumberWord(int n) => n switch { 2 => "two", 3 => "three", 4 => "four", _ => n.ToString(CultureInfo.InvariantCulture) };

    /// <summary>FNV-1a of the id: string.GetHashCode is randomised per process and would break determinism.</summary>
    static int StableHash(string text)
    {
        uint hash = 2166136261;
        foreach (var c in text) hash = (hash ^ c) * 16777619;
        return (int)(hash & 0x7fffffff);
    }
}
