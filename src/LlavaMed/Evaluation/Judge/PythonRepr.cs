using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlavaMed.Evaluation.Judge;

/// <summary>Python's <c>repr</c> of a value loaded by <c>json.loads</c>: the paper's judge formatted the raw
/// <c>in_text_mention</c> list into its prompt with an f-string, so the GPT-4 it asked saw e.g.
/// <c>[{'tokens': '...', 'entities': [...]}]</c>. Reproducing the paper's requests exactly needs the same text.</summary>
public static class PythonRepr
{
    public static string Format(JsonNode? node)
    {
        var text = new StringBuilder();
        Append(text, node);
        return text.ToString();
    }

    static void Append(StringBuilder text, JsonNode? node)
    {
        switch (node)
        {
            case null:
                text.Append("None");
                break;
            case JsonObject obj:
                text.Append('{');
                bool first = true;
                foreach (var (key, value) in obj)
                {
                    if (!first) text.Append(", ");
                    first = false;
                    AppendString(text, key);
                    text.Append(": ");
                    Append(text, value);
                }
                text.Append('}');
                break;
            case JsonArray array:
                text.Append('[');
                for (int i = 0; i < array.Count; i++)
                {
                    if (i > 0) text.Append(", ");
                    Append(text, array[i]);
                }
                text.Append(']');
                break;
            case JsonValue value:
                switch (value.GetValueKind())
                {
                    case JsonValueKind.String: AppendString(text, value.GetValue<string>()); break;
                    case JsonValueKind.True: text.Append("True"); break;
                    case JsonValueKind.False: text.Append("False"); break;
                    case JsonValueKind.Number: AppendNumber(text, value.ToJsonString()); break;
                    default: text.Append("None"); break;
                }
                break;
        }
    }

    /// <summary>JSON integers stay integers; any number with a fraction or exponent becomes a Python float: the
    /// shortest round-trip digits, ".0" when integral, exponent form ("1e-05", "1.5e+20") outside [1e-4, 1e16).</summary>
    static void AppendNumber(StringBuilder text, string json)
    {
        if (!json.Contains('.') && !json.Contains('e') && !json.Contains('E'))
        {
            text.Append(json);
            return;
        }
        var number = double.Parse(json, CultureInfo.InvariantCulture);
        var magnitude = Math.Abs(number);
        if (number != 0 && (magnitude < 1e-4 || magnitude >= 1e16))
        {
            var exponent = (int)Math.Floor(Math.Log10(magnitude));
            var mantissa = (number / Math.Pow(10, exponent)).ToString("R", CultureInfo.InvariantCulture);
            text.Append($"{mantissa}e{(exponent < 0 ? "-" : "+")}{Math.Abs(exponent):00}");
            return;
        }
        var digits = number.ToString("R", CultureInfo.InvariantCulture);
        if (digits.Contains('E')) digits = number.ToString("0.0###############", CultureInfo.InvariantCulture);
        text.Append(digits.Contains('.') ? digits : digits + ".0");
    }

    /// <summary>Single quotes unless the text contains a single quote and no double quote; backslash, the quote,
    /// \n \r \t escaped; other control characters as \xNN.</summary>
    static void AppendString(StringBuilder text, string value)
    {
        char quote = value.Contains('\'') && !value.Contains('"') ? '"' : '\'';
        text.Append(quote);
        foreach (var c in value)
        {
            switch (c)
            {
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                default:
                    if (c == quote) text.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) text.Append($"\\x{(int)c:x2}");
                    else text.Append(c);
                    break;
            }
        }
        text.Append(quote);
    }
}
