using System.Text.Json.Nodes;

namespace LlavaMed.Data;

/// <summary>A figure of <c>llava_med_instruct_fig_captions.json</c>: the PubMed Central figure-caption pairs the
/// instruction data was generated from. The released file is an object keyed by domain group, each an array of
/// these records (the generator walks <c>domain_dict.values()</c>); <see cref="DomainGroup"/> is that key.</summary>
public sealed record FigureCaption(string DomainGroup, string PairId, string? FigLabel, string Caption,
                                   IReadOnlyList<string> InTextMentions, ImageDomains Domains)
{
    /// <summary>The image file the LLaVA-Med records name for this figure (<c>pair_id + ".jpg"</c>).</summary>
    public string Image => PairId + ".jpg";
}

/// <summary>One question of <c>llava_med_eval_qa50_qa.jsonl</c> (the GPT-4-judged chat questions on 50 PubMed Central figures): the question
/// text with its <c>&lt;image&gt;</c> marker, GPT-4's text-only answer used as reference, and the figure context.</summary>
public sealed record Qa50Question(long QuestionId, string Image, string PairId, string Text, string Gpt4Answer,
                                  string FigCaption, string? FigLabel, IReadOnlyList<string> InTextMentions,
                                  ImageDomains Domains, string Type)
{
    public string Question => Text.Replace("<image>", "").Trim();
}

/// <summary>Readers for the released LLaVA-Med files (README "Data Download"): the alignment set
/// (<c>llava_med_alignment_500k.json</c>), the instruction sets (<c>llava_med_instruct_{10k,60k,60k_inline_mention}.json</c>,
/// whose records carry <c>domain</c> flags: see <see cref="ImageDomainFlags.Domains"/>), any LLaVA conversation file
/// (JSON array or JSONL, including the <c>conversatons</c> spelling), the figure captions and the QA50 questions.</summary>
public static class LlavaMedFiles
{
    public static RecordStream<LlavaSample> ReadConversations(string path, BadRecordPolicy policy = BadRecordPolicy.Fail) =>
        RecordStream<LlavaSample>.Create(path, policy, () => JsonRecordFile.Read(path),
                                         (node, location) => LlavaSample.FromJson(node, path, location));

    public static RecordStream<FigureCaption> ReadFigureCaptions(string path, BadRecordPolicy policy = BadRecordPolicy.Fail) =>
        RecordStream<FigureCaption>.Create(path, policy, () => JsonRecordFile.ReadArrays(path), (node, location) =>
        {
            var fields = new RecordFields(node, path, location);
            // The group is the top-level key, which the location starts with ("histology[12] (line 40)").
            var group = location[..location.IndexOf('[')];
            return new FigureCaption(group, fields.Text("pair_id"), fields.OptionalText("fig_label"),
                                     fields.Text("fig_caption"), Mentions(fields),
                                     ImageDomainFlags.Parse(fields.Json["domain"], path, location));
        });

    public static RecordStream<Qa50Question> ReadQa50(string path, BadRecordPolicy policy = BadRecordPolicy.Fail) =>
        RecordStream<Qa50Question>.Create(path, policy, () => JsonRecordFile.ReadLines(path), (node, location) =>
        {
            var fields = new RecordFields(node, path, location);
            return new Qa50Question(fields.Integer("question_id"), fields.Text("image"), fields.Text("pair_id"),
                                    fields.Text("text"), fields.Text("gpt4_answer"), fields.Text("fig_caption"),
                                    fields.OptionalText("fig_label"), Mentions(fields),
                                    ImageDomainFlags.Parse(fields.Json["domain"], path, location),
                                    fields.OptionalText("type") ?? "conversation");
        });

    /// <summary><c>in_text_mention</c>: null, or a list of sentences given as strings or as <c>{"tokens": ...}</c>.</summary>
    static IReadOnlyList<string> Mentions(RecordFields fields) => fields.Json["in_text_mention"] switch
    {
        null => [],
        JsonArray mentions => mentions.Select((mention, i) => mention switch
        {
            JsonValue v when v.TryGetValue<string>(out var text) => text,
            JsonObject o when o["tokens"] is JsonValue t && t.TryGetValue<string>(out var tokens) => tokens,
            _ => throw fields.Problem($"in_text_mention[{i}] is neither a sentence nor an object with 'tokens'"),
        }).ToList(),
        _ => throw fields.Problem("'in_text_mention' is not a list"),
    };
}
