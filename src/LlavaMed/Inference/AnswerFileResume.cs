using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlavaMed.Data;

namespace LlavaMed.Inference;

/// <summary>What an existing answer file already holds. <paramref name="PartialLastLine"/> is an unfinished last
/// line (no newline, not a JSON record: a run stopped mid-write), which resuming cuts off and answers again;
/// <paramref name="UnterminatedLastLine"/> marks a complete last record that lacks its newline.</summary>
public sealed record ExistingAnswers(IReadOnlySet<string> QuestionIds, int Lines, string? PartialLastLine,
                                     bool UnterminatedLastLine)
{
    public static ExistingAnswers None { get; } = new(new HashSet<string>(), 0, null, false);
}

/// <summary>Resuming an interrupted prediction run: which question ids an answer file (LLaVA's JSONL layout)
/// already answers, and making the file safe to append to.</summary>
public static class AnswerFileResume
{
    /// <summary>Reads the answered question ids. Every newline-terminated line must be a JSON object with a
    /// <c>question_id</c> (else a <see cref="DataFormatException"/> naming the line); only the last line may be an
    /// unfinished write, reported in <see cref="ExistingAnswers.PartialLastLine"/>. A missing file answers nothing.</summary>
    public static ExistingAnswers Read(string path)
    {
        if (!File.Exists(path)) return ExistingAnswers.None;
        var text = File.ReadAllText(path, Encoding.UTF8);
        var lines = text.Split('\n');
        // After a final newline Split gives one empty string; otherwise the last element is an unterminated line.
        var tail = lines[^1];
        var ids = new HashSet<string>();
        for (var i = 0; i < lines.Length - 1; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i])) continue;
            ids.Add(QuestionId(ParseLine(lines[i]) ?? throw Malformed(path, i + 1, lines[i]), path, i + 1));
        }
        if (string.IsNullOrWhiteSpace(tail)) return new ExistingAnswers(ids, lines.Length - 1, null, false);
        if (ParseLine(tail) is { } record)
        {
            ids.Add(QuestionId(record, path, lines.Length));
            return new ExistingAnswers(ids, lines.Length, null, UnterminatedLastLine: true);
        }
        return new ExistingAnswers(ids, lines.Length - 1, tail, false);
    }

    /// <summary>Cuts an unfinished last line off (its question is answered again) and ends a complete but
    /// unterminated last record with a newline, so appended records start on a line of their own.</summary>
    public static void PrepareForAppend(string path, ExistingAnswers existing)
    {
        if (existing.PartialLastLine is not null)
        {
            // Cut in bytes: a write stopped mid-character leaves bytes that do not round-trip through a string.
            var bytes = File.ReadAllBytes(path);
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
            stream.SetLength(Array.LastIndexOf(bytes, (byte)'\n') + 1);
        }
        else if (existing.UnterminatedLastLine)
            File.AppendAllText(path, "\n");
    }

    static JsonObject? ParseLine(string line)
    {
        try
        {
            return JsonNode.Parse(line) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    static string QuestionId(JsonObject record, string path, int lineNumber) => record["question_id"] switch
    {
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
        JsonValue value when value.GetValueKind() == JsonValueKind.Number => value.ToJsonString(),
        _ => throw new DataFormatException(path, $"line {lineNumber}", "missing 'question_id' (string or number)"),
    };

    static DataFormatException Malformed(string path, int lineNumber, string line) =>
        new(path, $"line {lineNumber}", $"not a JSON answer record: {(line.Length > 60 ? line[..60] + "..." : line)}");
}
