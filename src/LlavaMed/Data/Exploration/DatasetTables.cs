using LlavaMed.Data.Synthetic;
using LlavaMed.Text;
using Microsoft.Data.Analysis;

namespace LlavaMed.Data.Exploration;

/// <summary>The column names of the tables <see cref="DatasetTables"/> builds; <see cref="DatasetViews"/> reads them.</summary>
public static class DatasetColumns
{
    public const string Id = "id";
    public const string Split = "split";
    public const string Domain = "domain";
    public const string Image = "image";
    public const string Question = "question";
    public const string Answer = "answer";
    /// <summary>OPEN, CLOSED, or empty when the source has no answer type (alignment and instruction sets).</summary>
    public const string AnswerType = "answer_type";
    /// <summary>True for a closed question answered yes or no.</summary>
    public const string YesNo = "yes_no";
    public const string Turns = "turns";
    public const string QuestionWords = "question_words";
    public const string AnswerWords = "answer_words";
    public const string CaptionWords = "caption_words";
    public const string Mentions = "mentions";
    public const string Modality = "modality";
    public const string Anatomy = "anatomy";
    public const string Finding = "finding";
    public const string Normal = "normal";
    public const string LesionCount = "lesion_count";
}

/// <summary>One row per record of a data set as a <see cref="DataFrame"/>, from any of the formats the workbench
/// reads: LLaVA conversation files (alignment, instruction, downstream), VQA-RAD-schema question files, the figure
/// captions and the synthetic corpus's finding records. Question-answer tables share one schema (id, split, domain,
/// image, question, answer, answer_type, yes_no, turns, question_words, answer_words), so every view in
/// <see cref="DatasetViews"/> works on each of them and tables of different splits can be appended.</summary>
public static class DatasetTables
{
    /// <summary>The domain of a record that has none (alignment pairs, text-only samples).</summary>
    public const string NoDomain = "none";

    /// <summary>LLaVA conversation records. The question is the first human turn without <c>&lt;image&gt;</c>, the
    /// answer the first gpt turn (for an alignment pair: the caption). <paramref name="domainOf"/> names each record's
    /// domain; by default its <c>domain</c> flags (instruction sets), joined with "+" when several are set.</summary>
    public static DataFrame FromConversations(IEnumerable<LlavaSample> samples, string split = "",
                                              Func<LlavaSample, string>? domainOf = null)
    {
        domainOf ??= sample => DomainName(sample.Domains());
        var rows = samples.Select(sample =>
        {
            var question = sample.Conversations.FirstOrDefault(t => t.From == ConversationTurn.HumanSpeaker)?.Value
                .Replace(LlavaTokenizer.ImagePlaceholder, "").Trim() ?? "";
            var answer = sample.Conversations.FirstOrDefault(t => t.From == ConversationTurn.GptSpeaker)?.Value ?? "";
            var answerType = sample.AnswerType is { } type ? type.Trim().ToUpperInvariant() : "";
            return new QaRow(sample.Id, split, domainOf(sample), sample.Image, question, answer, answerType,
                             sample.Conversations.Count);
        });
        return QaTable(rows);
    }

    /// <summary>VQA-RAD questions (the released schema, also the synthetic corpus's <c>vqa/</c> files); the domain
    /// is the <c>image_organ</c> (HEAD, CHEST, ABD).</summary>
    public static DataFrame FromVqaRad(IEnumerable<VqaRadQuestion> questions, string split = "") =>
        QaTable(questions.Select(q => new QaRow(q.Qid.ToString(), split,
                                                 q.ImageOrgan?.Trim().ToUpperInvariant() is { Length: > 0 } organ ? organ : NoDomain,
                                                 q.ImageName, q.Question, q.Answer, q.AnswerType, 2)));

    /// <summary>Every split file of a VQA-RAD folder (<c>trainset.json</c> as "train", <c>testset.json</c> as "test"),
    /// in one table; the synthetic corpus's <c>vqa/</c> folder has the same layout. A folder with neither file is an
    /// error naming it.</summary>
    public static DataFrame FromVqaRadFolder(string folder)
    {
        var splits = VqaRad.SplitFiles.Where(s => File.Exists(Path.Combine(folder, s.File))).ToList();
        if (splits.Count == 0)
            throw new FileNotFoundException($"no VQA-RAD split file ({string.Join(", ", VqaRad.SplitFiles.Select(s => s.File))}) in {folder}");
        var table = FromVqaRad(VqaRad.Read(Path.Combine(folder, splits[0].File)), splits[0].Split);
        foreach (var (split, file) in splits.Skip(1))
            table.Append(FromVqaRad(VqaRad.Read(Path.Combine(folder, file)), split).Rows, inPlace: true);
        return table;
    }

    /// <summary>The figure-caption pairs self-instruct starts from: caption length and number of inline mentions.</summary>
    public static DataFrame FromFigureCaptions(IEnumerable<FigureCaption> figures)
    {
        var list = figures.ToList();
        return new DataFrame(
            new StringDataFrameColumn(DatasetColumns.Id, list.Select(f => f.PairId)),
            new StringDataFrameColumn(DatasetColumns.Domain, list.Select(f => f.Domains == ImageDomains.None ? f.DomainGroup : DomainName(f.Domains))),
            new StringDataFrameColumn(DatasetColumns.Image, list.Select(f => f.Image)),
            new Int32DataFrameColumn(DatasetColumns.CaptionWords, list.Select(f => WordCount(f.Caption))),
            new Int32DataFrameColumn(DatasetColumns.Mentions, list.Select(f => f.InTextMentions.Count)));
    }

    /// <summary>The synthetic corpus's ground truth, one row per figure.</summary>
    public static DataFrame FromFindings(IEnumerable<FindingRecord> findings)
    {
        var list = findings.ToList();
        return new DataFrame(
            new StringDataFrameColumn(DatasetColumns.Id, list.Select(f => f.PairId)),
            new StringDataFrameColumn(DatasetColumns.Split, list.Select(f => f.Split)),
            new StringDataFrameColumn(DatasetColumns.Domain, list.Select(f => f.Spec.FlagName)),
            new StringDataFrameColumn(DatasetColumns.Image, list.Select(f => f.Image)),
            new StringDataFrameColumn(DatasetColumns.Modality, list.Select(f => f.Modality)),
            new StringDataFrameColumn(DatasetColumns.Anatomy, list.Select(f => f.Anatomy)),
            new StringDataFrameColumn(DatasetColumns.Finding, list.Select(f => f.Finding)),
            new BooleanDataFrameColumn(DatasetColumns.Normal, list.Select(f => f.IsNormal)),
            new Int32DataFrameColumn(DatasetColumns.LesionCount, list.Select(f => f.Count)));
    }

    /// <summary>A synthetic figure's domain by its image file name, for records that carry no domain flags (the
    /// alignment set): e.g. <c>FromConversations(samples, domainOf: s =&gt; domains[s.Image!])</c>.</summary>
    public static IReadOnlyDictionary<string, string> DomainsByImage(IEnumerable<FindingRecord> findings) =>
        findings.ToDictionary(f => f.Image, f => f.Spec.FlagName, StringComparer.Ordinal);

    /// <summary>Flag names (<c>chest_xray</c>, ...) joined with "+"; <see cref="NoDomain"/> when none is set.</summary>
    public static string DomainName(ImageDomains domains) => domains == ImageDomains.None
        ? NoDomain
        : string.Join("+", ImageDomainFlags.ToJson(domains).Where(flag => (bool)flag.Value!).Select(flag => flag.Key));

    /// <summary>Words separated by white space.</summary>
    public static int WordCount(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;

    sealed record QaRow(string Id, string Split, string Domain, string? Image, string Question, string Answer,
                        string AnswerType, int Turns);

    static DataFrame QaTable(IEnumerable<QaRow> rows)
    {
        var list = rows.ToList();
        return new DataFrame(
            new StringDataFrameColumn(DatasetColumns.Id, list.Select(r => r.Id)),
            new StringDataFrameColumn(DatasetColumns.Split, list.Select(r => r.Split)),
            new StringDataFrameColumn(DatasetColumns.Domain, list.Select(r => r.Domain)),
            new StringDataFrameColumn(DatasetColumns.Image, list.Select(r => r.Image)),
            new StringDataFrameColumn(DatasetColumns.Question, list.Select(r => r.Question)),
            new StringDataFrameColumn(DatasetColumns.Answer, list.Select(r => r.Answer)),
            new StringDataFrameColumn(DatasetColumns.AnswerType, list.Select(r => r.AnswerType)),
            new BooleanDataFrameColumn(DatasetColumns.YesNo,
                list.Select(r => r.AnswerType == VqaAnswerTypes.Closed && VqaAnswerTypes.IsYesNo(r.Answer))),
            new Int32DataFrameColumn(DatasetColumns.Turns, list.Select(r => r.Turns)),
            new Int32DataFrameColumn(DatasetColumns.QuestionWords, list.Select(r => WordCount(r.Question))),
            new Int32DataFrameColumn(DatasetColumns.AnswerWords, list.Select(r => WordCount(r.Answer))));
    }
}
