using System.Text.RegularExpressions;

namespace LlavaMed.Data.SelfInstruct;

/// <summary>What <see cref="ConversationParser.Parse"/> made of a model's reply: the question/answer pairs and a
/// note for every block it had to skip.</summary>
public sealed record ParsedConversation(IReadOnlyList<ConversationPair> Pairs, IReadOnlyList<string> Problems);

/// <summary>Splits a generated conversation into User/Assistant pairs, as <c>instruct_postprocess.py</c>'s
/// <c>format_conv</c> does: text before the first <c>User:</c> is ignored, and a User block is kept only when it
/// holds exactly one <c>Assistant:</c> (none, or two in a row, skips the block). Unlike the reference, the
/// markers count only at the start of a line (so "User:" inside an answer does not split it), may be wrapped in
/// markdown bold (<c>**User:**</c>) and are matched case-insensitively; empty questions or answers are skipped.</summary>
public static partial class ConversationParser
{
    [GeneratedRegex(@"^[ \t]*(?:\*\*|__)?(?<role>User|Assistant)(?:\*\*|__)?[ \t]*:(?:\*\*|__)?[ \t]*",
                    RegexOptions.Multiline | RegexOptions.IgnoreCase)]
    private static partial Regex Marker();

    public static ParsedConversation Parse(string reply)
    {
        var markers = Marker().Matches(reply.Replace("\r\n", "\n"));
        var text = reply.Replace("\r\n", "\n");
        var pairs = new List<ConversationPair>();
        var problems = new List<string>();
        if (markers.Count == 0)
        {
            problems.Add("no 'User:' / 'Assistant:' turns in the reply");
            return new ParsedConversation(pairs, problems);
        }
        // Blocks: (role, content up to the next marker).
        var blocks = markers.Select((m, i) => (
            IsUser: m.Groups["role"].Value.Equals("User", StringComparison.OrdinalIgnoreCase),
            Content: text[(m.Index + m.Length)..(i + 1 < markers.Count ? markers[i + 1].Index : text.Length)].Trim())).ToList();
        int k = 0;
        while (k < blocks.Count && !blocks[k].IsUser)
        {
            problems.Add("an Assistant turn before any User turn was ignored");
            k++;
        }
        for (; k < blocks.Count; k++)
        {
            if (!blocks[k].IsUser) continue;
            int answers = 0;
            while (k + 1 + answers < blocks.Count && !blocks[k + 1 + answers].IsUser) answers++;
            if (answers != 1)
            {
                problems.Add(answers == 0 ? $"question without an answer skipped: \"{Shorten(blocks[k].Content)}\""
                                          : $"question with {answers} answers skipped: \"{Shorten(blocks[k].Content)}\"");
            }
            else if (blocks[k].Content.Length == 0 || blocks[k + 1].Content.Length == 0)
                problems.Add("empty question or answer skipped");
            else
                pairs.Add(new ConversationPair(blocks[k].Content, blocks[k + 1].Content));
            k += answers;
        }
        return new ParsedConversation(pairs, problems);
    }

    static string Shorten(string text) => text.Length <= 60 ? text : text[..57] + "...";
}
