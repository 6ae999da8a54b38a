using System.Globalization;

namespace LlavaMed.Data.Synthetic;

/// <summary>One question in VQA-RAD's own JSON schema (the fields and types of its <c>testset.json</c>).</summary>
public sealed record VqaRadRecord(int Qid, string ImageName, string ImageOrgan, string Answer, string AnswerType,
                                  string QuestionType, string Question, string PhraseType)
{
    public const string Closed = "CLOSED", Open = "OPEN";
}

/// <summary>Derives VQA questions from a finding record: open questions (organ, modality, main finding, location,
/// count, stain, colour) and closed ones (yes/no and two-choice). For every yes/no question a fair coin picks the
/// answer first and then a phrasing that has that answer, so yes and no are balanced whatever the finding mix.</summary>
static class VqaQuestions
{
    /// <summary>The first template is the "freeform" phrasing, the others its paraphrases ("para").</summary>
    static (string Question, string PhraseType) Phrase(Random random, params string[] templates)
    {
        var i = random.Next(templates.Length);
        return (templates[i], i == 0 ? "freeform" : "para");
    }

    static string Be(string nounPhrase) => FigureText.IsPlural(nounPhrase) ? "Are" : "Is";

    public static IReadOnlyList<VqaRadRecord> For(FindingRecord record, Random random)
    {
        var organ = DomainCatalog.ImageOrgan(record.Anatomy);
        var questions = new List<VqaRadRecord>();
        void Add(string answer, string answerType, string questionType, (string Question, string PhraseType) phrase)
            => questions.Add(new VqaRadRecord(0, record.Image, organ, answer, answerType, questionType, phrase.Question, phrase.PhraseType));
        var spec = record.Spec;
        var finding = record.FindingSpec;

        Add(record.Anatomy, VqaRadRecord.Open, "ORGAN", Phrase(random, "What organ is shown?", "Which organ is this?", "What part of the body is shown in this image?"));
        Add(record.Modality, VqaRadRecord.Open, "MODALITY", Phrase(random, "What imaging modality is this?", "How was this image taken?", "What kind of image is this?"));
        Add(record.Finding, VqaRadRecord.Open, "ABN",
            Phrase(random, "What is the main finding?", "What is the most likely diagnosis?", "What is the primary finding in this image?"));

        // Closed modality: ask about the true modality or another domain's.
        var askTrue = random.Chance(0.5);
        var modality = askTrue ? record.Modality
            : random.Pick(DomainCatalog.Domains.Select(d => d.Modality).Where(m => m != record.Modality).ToList());
        Add(askTrue ? "yes" : "no", VqaRadRecord.Closed, "MODALITY", Phrase(random, $"Is this {ModalityNoun(modality)}?", $"Was this image taken with {ModalityNoun(modality)}?"));

        // Presence: a present finding for "yes", an absent one of the same domain for "no"; a normal figure has no
        // present finding, so its "yes" is asked as "Is this image normal?".
        if (random.Chance(0.5))
        {
            if (finding is null)
                Add("yes", VqaRadRecord.Closed, "ABN", Phrase(random, "Is this image normal?", $"Is the {record.Anatomy} normal?"));
            else
                AddPresence(finding.Key, "yes");
        }
        else
            AddPresence(random.Pick(spec.Findings.Where(f => f.Key != record.Finding).ToList()).Key, "no");

        void AddPresence(string key, string answer)
        {
            var np = FigureText.WithArticle(key);
            Add(answer, VqaRadRecord.Closed, "PRES", Phrase(random, $"{Be(np)} there {np}?", $"Is there evidence of {np}?", $"Does this image show {np}?"));
        }

        // Abnormality: choose the answer, then the phrasing that has it.
        var wantYes = random.Chance(0.5);
        var askNormal = wantYes == record.IsNormal;
        Add(wantYes ? "yes" : "no", VqaRadRecord.Closed, "ABN", askNormal
            ? Phrase(random, "Is this image normal?", $"Is the {record.Anatomy} normal?")
            : Phrase(random, "Is there an abnormality?", "Is anything abnormal in this image?"));

        if (finding is not null)
        {
            var key = finding.Key;
            var subject = FigureText.IsPlural(key) || (finding.Countable && record.Count > 1) ? finding.Plural : key;
            var be = Be(subject).ToLowerInvariant();
            if (record.Laterality is not null)
            {
                if (random.Chance(0.5))
                    Add(record.Laterality, VqaRadRecord.Closed, "POS", Phrase(random, $"Is the {key} on the left or right side?", $"Which side is the {key} on, left or right?"));
                else
                {
                    var side = random.Chance(0.5) ? record.Laterality : record.Laterality == "left" ? "right" : "left";
                    Add(side == record.Laterality ? "yes" : "no", VqaRadRecord.Closed, "POS",
                        Phrase(random, $"Is the {key} on the {side} side?", $"Is the {key} located on the {side}?"));
                }
            }
            if (record.Location is not null)
                Add(record.Location, VqaRadRecord.Open, "POS", Phrase(random, $"Where is the {key}?", $"Where is the {key} located?", $"What is the location of the {key}?"));
            if (record.Size is not null)
            {
                if (random.Chance(0.5))
                    Add(record.Size, VqaRadRecord.Closed, "SIZE", Phrase(random, $"Is the {key} small or large?", $"How big is the {key}, small or large?"));
                else
                {
                    var size = random.Chance(0.5) ? record.Size : record.Size == "small" ? "large" : "small";
                    Add(size == record.Size ? "yes" : "no", VqaRadRecord.Closed, "SIZE",
                        Phrase(random, $"{Capitalise(be)} the {subject} {size}?", $"Does the {key} appear {size}?"));
                }
            }
            if (finding.Countable)
                Add(record.Count.ToString(CultureInfo.InvariantCulture), VqaRadRecord.Open, "COUNT",
                    Phrase(random, $"How many {finding.Plural} are there?", $"How many {finding.Plural} are seen?", $"What is the number of {finding.Plural}?"));
            if (record.Domain == BiomedicalDomain.Gross)
                Add(record.Appearance!, VqaRadRecord.Open, "COLOR", Phrase(random, $"What color is the {key}?", $"What is the color of the {key}?"));
        }
        if (record.Domain == BiomedicalDomain.Histology)
            Add(record.Appearance!, VqaRadRecord.Open, "COLOR", Phrase(random, "What stain is used?", "Which stain was used for this section?", "How was this section stained?"));
        return questions;
    }

    static string Capitalise(string text) => char.ToUpperInvariant(text[0]) + text[1..];

    static string ModalityNoun(string modality) => modality switch
    {
        "x-ray" => "an x-ray",
        "ct" => "a CT scan",
        "mri" => "an MRI",
        "microscopy" => "a microscopy image",
        _ => "a photograph",
    };
}
