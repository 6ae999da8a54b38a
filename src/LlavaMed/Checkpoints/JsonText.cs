using System.Text;

namespace LlavaMed.Checkpoints;

/// <summary>JSON string literals written byte-for-byte like the reference writers, so that our files and indexes
/// equal theirs: serde_json (safetensors headers) escapes only quote, backslash and control characters; Python's
/// <c>json.dumps</c> (shard indexes, ensure_ascii) also escapes everything outside printable ASCII as \uXXXX.</summary>
internal static class JsonText
{
    public static void AppendSerdeString(StringBuilder builder, string value) => Append(builder, value, asciiOnly: false);

    public static void AppendPythonString(StringBuilder builder, string value) => Append(builder, value, asciiOnly: true);

    private static void Append(StringBuilder builder, string value, bool asciiOnly)
    {
        builder.Append('"');
        foreach (var character in value)
        {
            switch (character)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\b': builder.Append("\\b"); break;
                case '\f': builder.Append("\\f"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                default:
                    // UTF-16 code units are exactly what Python's \uXXXX escapes (surrogate pairs included).
                    if (character < 0x20 || (asciiOnly && character > 0x7E))
                        builder.Append("\\u").Append(((int)character).ToString("x4"));
                    else
                        builder.Append(character);
                    break;
            }
        }
        builder.Append('"');
    }

    /// <summary>Orders names the way Rust's <c>String</c> and Python's <c>str</c> do: by code point, which is UTF-8
    /// byte order (plain ordinal UTF-16 order differs for characters above U+FFFF).</summary>
    public static readonly Comparer<string> CodePointOrder = Comparer<string>.Create((left, right) =>
        Encoding.UTF8.GetBytes(left).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(right)));
}
