using System.Globalization;

namespace LlavaMed.Data.Synthetic;

/// <summary>One sentence of an imagined paper body that cites the figure, in the released files' layout: the
/// sentence as space-separated tokens and the figure reference's token span [start, end).</summary>
public sealed record InlineMention(string Tokens, string EntityId, int StartToken, int EndToken);

/// <summary>Writes the words about a figure from its <see cref="FindingRecord"/>: PMC-style captions (several
/// templates, synonyms, optional abbreviations), inline mentions, and the detailed descriptions and answers of the
/// chat evaluation set. Every sentence states only what the record holds.</summary>
static class FigureText
{
    static readonly HashSet<string> MassNouns =
    [
        "ascites", "inflammation", "necrosis", "cardiomegaly", "hydrocephalus", "free fluid", "peritoneal fluid",
        "intraperitoneal fluid", "chronic inflammation", "coagulative necrosis", "tissue necrosis", "nephrolithiasis",
        "ventriculomegaly", "granulomatous inflammation", "air in the pleural space", "blunting of the costophrenic angle",
        "hemorrhage", "lymphocytic infiltrate", "malignant cells", "tumor cells", "enlarged ventricles",
        "dilated lateral ventricles", "white matter lesions", "periventricular lesions", "demyelinating plaques",
        "white matter hyperintensities", "increased cardiothoracic ratio", "adenocarcinoma",
    ];

    public static bool IsPlural(string phrase) => phrase.EndsWith('s') && phrase is not ("ascites" or "necrosis" or "hydrocephalus" or "nephrolithiasis");

    static string Is(string phrase) => IsPlural(phrase) ? "are" : "is";

    static string Was(string phrase) => IsPlural(phrase) ? "were" : "was";

    /// <summary>The phrase with "a"/"an" unless it is a mass noun or plural.</summary>
    public static string WithArticle(string phrase) => MassNouns.Contains(phrase) || IsPlural(phrase) ? phrase
        : ("aeiou".Contains(phrase[0]) ? "an " : "a ") + phrase;

    static string Capitalise(string text) => char.ToUpperInvariant(text[0]) + text[1..];

    static string NumberWord(int n) => n switch { 1 => "one", 2 => "two", 3 => "three", 4 => "four", _ => n.ToString(CultureInfo.InvariantCulture) };

    static readonly Dictionary<string, string[]> SizeWords = new()
    {
        ["small"] = ["small", "small", "subtle"],
        ["large"] = ["large", "large", "extensive"],
    };

    /// <summary>The finding as a noun phrase: a synonym or the key, with count, size and (gross) colour; a
    /// synonym's size goes into an extra sentence since adjectives do not fit every synonym.</summary>
    static (string Phrase, string Extra) FindingPhrase(FindingRecord record, Random random, bool allowAbbreviation)
    {
        var spec = record.FindingSpec!;
        var colour = record.Domain == BiomedicalDomain.Gross ? record.Appearance + " " : "";
        var size = record.Size is null ? "" : random.Pick(SizeWords[record.Size]) + " ";
        if (spec.Countable && record.Count > 1)
            return ($"{NumberWord(record.Count)} {size}{colour}{spec.Plural}", "");
        var abbreviation = allowAbbreviation && spec.Abbreviation is not null && random.Chance(0.5) ? $" ({spec.Abbreviation})" : "";
        if (random.Chance(0.5))
            return (WithArticle($"{size}{colour}{spec.Key}") + abbreviation, "");
        var synonym = random.Pick(spec.Synonyms);
        var extra = record.Size is null ? "" : $" The {spec.Key} is {record.Size}.";
        return (WithArticle(colour + synonym) + abbreviation, extra);
    }

    static string LocationPhrase(FindingRecord record, Random random, bool allowAbbreviation)
    {
        var location = record.Location;
        if (location is null) return "";
        return (record.Domain, record.Finding) switch
        {
            (BiomedicalDomain.ChestXray, "nodule") when allowAbbreviation && random.Chance(0.3)
                => $" in the {location} ({string.Concat(location.Split(' ').Select(w => char.ToUpperInvariant(w[0])))})",
            (BiomedicalDomain.ChestXray, "pleural effusion" or "pneumothorax") when random.Chance(0.5) => $" on the {record.Laterality} side",
            (BiomedicalDomain.ChestXray, "pleural effusion" or "pneumothorax") => $" at the {location}",
            (BiomedicalDomain.Mri, "white matter lesions") => " in the periventricular white matter",
            (BiomedicalDomain.Histology, _) => random.Chance(0.5) ? $" in the {location} of the field" : $" at the {location} of the section",
            (BiomedicalDomain.Gross, _) => random.Chance(0.5) ? $" in the {location} part of the specimen" : $" at the {location} of the cut surface",
            _ => $" in the {location}",
        };
    }

    static string Arrow(FindingRecord record, Random random)
        => record.IsNormal || random.Chance(0.6) ? "" : record.Count > 1 ? " (arrows)" : random.Pick([" (arrow)", " (arrowhead)", " (asterisk)"]);

    static string StainSuffix(FindingRecord record, Random random)
    {
        if (record.Domain != BiomedicalDomain.Histology) return "";
        var magnification = random.Pick(["x100", "x200", "x400"]);
        var stain = record.Appearance switch
        {
            "h&e" => random.Pick(["H&E", "hematoxylin and eosin", "H&E stain"]),
            "trichrome" => random.Pick(["Masson trichrome", "trichrome stain"]),
            _ => random.Pick(["immunohistochemistry", "IHC", "immunostaining"]),
        };
        return random.Chance(0.5) ? $" ({stain}, {magnification})" : $" {Capitalise(stain)} staining, original magnification {magnification}.";
    }

    /// <summary>A PMC-style caption: one of several templates per case, with synonyms and optional abbreviations.</summary>
    public static string Caption(FindingRecord record, Random random)
    {
        var spec = record.Spec;
        var modality = random.Pick(spec.ModalitySynonyms);
        var anatomy = record.Anatomy;
        string body;
        if (record.IsNormal)
        {
            body = random.Next(5) switch
            {
                0 => $"{Capitalise(modality)} showing no abnormality.",
                1 => $"Normal {modality} of the {anatomy}.",
                2 => $"{Capitalise(modality)} of the {anatomy} with no significant findings.",
                3 => $"Unremarkable {modality}; the {anatomy} appears normal.",
                _ => $"{Capitalise(modality)} of a control subject demonstrating a normal {anatomy}.",
            };
        }
        else
        {
            var (finding, extra) = FindingPhrase(record, random, allowAbbreviation: true);
            var location = LocationPhrase(record, random, allowAbbreviation: true);
            var arrow = Arrow(record, random);
            body = random.Next(5) switch
            {
                0 => $"{Capitalise(modality)} showing {finding}{location}{arrow}.{extra}",
                1 => $"{Capitalise(modality)} of the {anatomy} demonstrates {finding}{location}{arrow}.{extra}",
                2 => $"{Capitalise(finding)}{location} on {modality}{arrow}.{extra}",
                3 => $"{Capitalise(modality)} reveals {finding}{location}{arrow}.{extra} Findings are consistent with {record.Finding}.",
                _ => $"Representative {modality} of the {anatomy}: {finding}{location} {Is(finding)} seen{arrow}.{extra}",
            };
        }
        return body + StainSuffix(record, random);
    }

    /// <summary>0-2 sentences citing the figure, tokenised like the released files (punctuation split off, the
    /// label kept as in the paper, e.g. "Fig." "3").</summary>
    public static IReadOnlyList<InlineMention> InlineMentions(FindingRecord record, Random random)
    {
        var count = random.Next(3);
        var mentions = new List<InlineMention>();
        var number = record.FigId.TrimStart('F', 'f', 'i', 'g');
        var label = record.FigLabel;
        var modality = System.Text.RegularExpressions.Regex.Replace(random.Pick(record.Spec.ModalitySynonyms), @" \(.*\)", "");
        for (var i = 0; i < count; i++)
        {
            string sentence;
            if (record.IsNormal)
                sentence = random.Next(3) switch
                {
                    0 => $"No abnormality was detected on {modality} ( {label} ) .",
                    1 => $"The {record.Anatomy} appeared normal ( {label} ) .",
                    _ => $"As shown in {label} , the {record.Anatomy} was unremarkable .",
                };
            else
            {
                var (finding, _) = FindingPhrase(record, random, allowAbbreviation: false);
                var location = LocationPhrase(record, random, allowAbbreviation: false);
                sentence = random.Next(3) switch
                {
                    0 => $"{Capitalise(modality)} showed {finding}{location} ( {label} ) .",
                    1 => $"As shown in {label} , {finding} {Was(finding)} present{location} .",
                    _ => $"The {record.Anatomy} was examined and {finding} {Was(finding)} identified{location} ( see {label} ) .",
                };
            }
            var tokens = sentence.Split(' ');
            var labelTokens = label.Split(' ');
            var start = Enumerable.Range(0, tokens.Length - labelTokens.Length + 1)
                .First(t => tokens.Skip(t).Take(labelTokens.Length).SequenceEqual(labelTokens));
            mentions.Add(new InlineMention(sentence, number, start, start + labelTokens.Length));
        }
        return mentions;
    }

    /// <summary>A paragraph describing the image from the record (the chat set's detailed_description answer).</summary>
    public static string DetailedDescription(FindingRecord record, Random random)
    {
        var spec = record.Spec;
        var parts = new List<string> { $"The image is {WithArticle(spec.ModalityPhrase)} showing the {record.Anatomy}." };
        if (record.Domain == BiomedicalDomain.Histology)
            parts.Add($"The section is stained with {DomainCatalog.StainName(record.Appearance!)}.");
        if (record.IsNormal)
            parts.Add($"No abnormality is visible, and the {record.Anatomy} appears normal.");
        else
        {
            var (finding, extra) = FindingPhrase(record, random, allowAbbreviation: false);
            parts.Add($"There {Is(finding)} {finding}{LocationPhrase(record, random, allowAbbreviation: false)}.{extra}");
            if (record.FindingSpec!.Countable) parts.Add($"In total, {NumberWord(record.Count)} {(record.Count > 1 ? record.FindingSpec.Plural : record.Finding)} can be counted.");
            parts.Add("The findings should be interpreted by a healthcare professional together with the clinical context.");
        }
        return string.Join(" ", parts);
    }

    /// <summary>Open conversation questions about the figure with sentence answers (the chat set's
    /// <c>conversation</c> type).</summary>
    public static IReadOnlyList<(string Question, string Answer)> ConversationQuestions(FindingRecord record)
    {
        var spec = record.Spec;
        var several = record.FindingSpec is { Countable: true } && record.Count > 1;
        var subject = several ? record.FindingSpec!.Plural : record.Finding;
        var shown = several ? $"{NumberWord(record.Count)} {subject}" : WithArticle(record.Finding);
        var questions = new List<(string, string)>
        {
            ("What type of image is this?", $"This is {WithArticle(spec.ModalityPhrase)} showing the {record.Anatomy}."),
            ("What abnormality can be seen in the image?", record.IsNormal
                ? $"No abnormality is visible; the {record.Anatomy} appears normal."
                : $"The image shows {shown}{(record.Location is null ? "" : $" in the {record.Location}")}."),
        };
        if (record.Location is not null)
            questions.Add(($"Where {Is(subject)} the {subject} located?", $"The {subject} {Is(subject)} located in the {record.Location}."));
        if (record.Domain == BiomedicalDomain.Histology)
            questions.Add(("What stain was used for this section?", $"The section is stained with {DomainCatalog.StainName(record.Appearance!)}."));
        return questions;
    }
}
