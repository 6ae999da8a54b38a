using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace LlavaMed.Text;

/// <summary>How the Hugging Face slow <c>LlamaTokenizer</c> that produced a checkpoint's ids treated text.</summary>
/// <param name="Legacy">HF <c>legacy=True</c> (the default of LLaVA/Mistral tokenizer configs): every text segment,
/// including one that follows a special token such as <c>&lt;/s&gt;</c>, gets SentencePiece's dummy-prefix "▁".
/// With false, only the start of the whole text gets it (HF <c>legacy=False</c>).</param>
/// <param name="StripWhitespaceAroundAddedTokens">transformers ≤ 4.28 (LLaVA-Med v1.0's pin): tokens added with
/// <c>add_tokens</c> (not bos/eos/unk/pad) swallow the whitespace on both sides of them.</param>
public sealed record LlavaTokenizerOptions(bool Legacy = true, bool StripWhitespaceAroundAddedTokens = false)
{
    public static LlavaTokenizerOptions Default { get; } = new();

    /// <summary>The behaviour of the transformers commit LLaVA-Med v1.0 pins (slow tokenizer, 4.28.0.dev0).</summary>
    public static LlavaTokenizerOptions LlavaMedV10 { get; } = new(Legacy: true, StripWhitespaceAroundAddedTokens: true);
}

/// <summary>
/// The LLaMA/Mistral SentencePiece tokenizer as LLaVA(-Med) uses it: HF slow <c>LlamaTokenizer</c> semantics
/// (special and added tokens written in the text become their ids, legacy dummy-prefix handling), LLaVA's
/// <c>tokenizer_image_token</c>, and decoding that reproduces SentencePiece's byte fallback and leading-space rule.
/// SentencePiece BPE itself is Microsoft.ML.Tokenizers' <see cref="LlamaTokenizer"/>.
/// </summary>
public sealed class LlavaTokenizer
{
    /// <summary>LLaVA's IMAGE_TOKEN_INDEX: the placeholder id the model splices image features into.</summary>
    public const long ImageTokenIndex = -200;

    /// <summary>The text marker that <see cref="EncodeWithImages"/> turns into <see cref="ImageTokenIndex"/>.</summary>
    public const string ImagePlaceholder = "<image>";

    private const char SentencePieceSpace = '\u2581';

    private readonly LlamaTokenizer sentencePiece;
    private readonly string[] pieceById;
    private readonly ImmutableDictionary<string, int> idByToken;
    private readonly ImmutableHashSet<int> controlIds;   // bos/eos/unk/pad: HF all_special_ids
    private readonly ImmutableHashSet<int> addedIds;     // from added_tokens.json
    private readonly string[] splitTokensLongestFirst;
    private readonly int unkPrefixLength;

    public LlavaTokenizerOptions Options { get; }
    public int BosId { get; }
    public int EosId { get; }
    public int UnkId { get; }
    public int? PadId { get; }
    public bool AddBosToken { get; }
    public bool AddEosToken { get; }
    /// <summary><c>model_max_length</c> from tokenizer_config.json when it is a sensible number (HF writes 1e30 for
    /// "no limit").</summary>
    public int? ModelMaxLength { get; }
    /// <summary>SentencePiece pieces plus added tokens (the embedding rows a checkpoint needs).</summary>
    public int VocabularySize => pieceById.Length;

    private LlavaTokenizer(LlamaTokenizer sentencePiece, IReadOnlyDictionary<string, int> addedTokens,
        string? padToken, bool addBos, bool addEos, int? modelMaxLength, LlavaTokenizerOptions options)
    {
        this.sentencePiece = sentencePiece;
        Options = options;
        AddBosToken = addBos;
        AddEosToken = addEos;
        ModelMaxLength = modelMaxLength;

        var vocabulary = sentencePiece.Vocabulary;
        var size = Math.Max(vocabulary.Values.DefaultIfEmpty(-1).Max(), addedTokens.Values.DefaultIfEmpty(-1).Max()) + 1;
        pieceById = new string[size];
        foreach (var (piece, id) in vocabulary) pieceById[id] = piece;
        foreach (var (token, id) in addedTokens) pieceById[id] = token;
        var idByToken = vocabulary.ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var (token, id) in addedTokens) idByToken[token] = id;
        this.idByToken = idByToken.ToImmutableDictionary();

        BosId = sentencePiece.BeginningOfSentenceId;
        EosId = sentencePiece.EndOfSentenceId;
        UnkId = sentencePiece.UnknownId;
        PadId = padToken is not null && this.idByToken.TryGetValue(padToken, out var pad) ? pad : null;
        controlIds = new[] { BosId, EosId, UnkId }.Concat(PadId is { } p ? [p] : Array.Empty<int>()).ToImmutableHashSet();
        addedIds = addedTokens.Values.ToImmutableHashSet();

        splitTokensLongestFirst = controlIds.Concat(addedIds).Select(id => pieceById[id]).Distinct()
            .OrderByDescending(t => t.Length).ToArray();
        // HF's trick for encoding without the dummy prefix: encode "<unk>" + text and drop the pieces of "<unk>".
        unkPrefixLength = EncodeSentencePiece(pieceById[UnkId]).Count;
    }

    /// <summary>Loads <c>tokenizer.model</c> plus the optional <c>tokenizer_config.json</c>,
    /// <c>special_tokens_map.json</c> and <c>added_tokens.json</c> from <paramref name="directory"/>.</summary>
    public static LlavaTokenizer FromFolder(string directory, LlavaTokenizerOptions? options = null)
    {
        var modelPath = Path.Combine(directory, "tokenizer.model");
        if (!File.Exists(modelPath)) throw new FileNotFoundException("tokenizer.model not found", modelPath);

        using var config = ReadJson(Path.Combine(directory, "tokenizer_config.json"));
        using var specialMap = ReadJson(Path.Combine(directory, "special_tokens_map.json"));
        using var added = ReadJson(Path.Combine(directory, "added_tokens.json"));

        var addedTokens = new Dictionary<string, int>();
        if (added is not null)
            foreach (var property in added.RootElement.EnumerateObject())
                addedTokens[property.Name] = property.Value.GetInt32();

        var addBos = GetBool(config, "add_bos_token") ?? true;
        var addEos = GetBool(config, "add_eos_token") ?? false;
        var legacy = GetBool(config, "legacy");
        var padToken = GetTokenString(specialMap, "pad_token") ?? GetTokenString(config, "pad_token");
        int? maxLength = null;
        if (config?.RootElement.TryGetProperty("model_max_length", out var m) == true && m.ValueKind == JsonValueKind.Number
            && m.TryGetDouble(out var maxValue) && maxValue is > 0 and < int.MaxValue)
            maxLength = (int)maxValue;

        // An explicit option wins; otherwise the config's "legacy" flag (absent means legacy, as in HF).
        var effective = options ?? LlavaTokenizerOptions.Default with { Legacy = legacy ?? true };

        using var stream = File.OpenRead(modelPath);
        var sentencePiece = LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false);
        return new LlavaTokenizer(sentencePiece, addedTokens, padToken, addBos, addEos, maxLength, effective);
    }

    /// <summary>The id of a piece or added token, or null when the vocabulary has no such entry.</summary>
    public int? TokenToId(string token) => idByToken.TryGetValue(token, out var id) ? id : null;

    /// <summary>The piece or added token with this id.</summary>
    public string IdToToken(int id) => pieceById[id];

    /// <summary>True for bos/eos/unk/pad and added tokens: what <c>skipSpecialTokens</c> drops.</summary>
    public bool IsSpecial(long id) => id is >= 0 and <= int.MaxValue && (controlIds.Contains((int)id) || addedIds.Contains((int)id));

    /// <summary>HF <c>tokenizer(text).input_ids</c> with <see cref="AddBosToken"/>/<see cref="AddEosToken"/>.</summary>
    public IReadOnlyList<int> Encode(string text) => Encode(text, AddBosToken, AddEosToken);

    /// <summary>HF slow-tokenizer encoding: special and added tokens written in the text become their ids, the text
    /// between them is SentencePiece-encoded according to <see cref="Options"/>.</summary>
    public IReadOnlyList<int> Encode(string text, bool addBos, bool addEos = false)
    {
        var ids = new List<int>();
        if (addBos) ids.Add(BosId);
        ids.AddRange(Options.Legacy ? EncodeLegacy(text) : EncodeNonLegacy(text));
        if (addEos) ids.Add(EosId);
        return ids;
    }

    /// <summary>LLaVA's <c>tokenizer_image_token</c>: split on <c>&lt;image&gt;</c>, encode every chunk on its own
    /// (each with BOS when the tokenizer adds one), keep one BOS at the start, put <see cref="ImageTokenIndex"/>
    /// between chunks.</summary>
    public long[] EncodeWithImages(string prompt)
    {
        var chunks = prompt.Split(ImagePlaceholder).Select(Encode).ToList();
        var result = new List<long>();
        // When the first chunk starts with BOS, every chunk's BOS is dropped and one BOS leads; otherwise chunks
        // are kept whole (reference: offset 0 or 1 and the [image]*(offset+1) separator).
        var offset = chunks.Count > 0 && chunks[0].Count > 0 && chunks[0][0] == BosId ? 1 : 0;
        if (offset == 1) result.Add(BosId);
        for (var i = 0; i < chunks.Count; i++)
        {
            if (i > 0) result.Add(ImageTokenIndex);
            result.AddRange(chunks[i].Skip(offset).Select(id => (long)id));
        }
        return result.ToArray();
    }

    /// <summary>Text for ids, as HF <c>decode</c> gives it for a SentencePiece LLaMA tokenizer: byte-fallback
    /// pieces are joined into UTF-8, the dummy-prefix space of a segment's first piece is removed, special tokens
    /// are dropped or written out. <see cref="ImageTokenIndex"/> and other negative ids are ignored.</summary>
    public string Decode(IEnumerable<long> ids, bool skipSpecialTokens = true)
    {
        var decoder = new TokenStreamDecoder(this, skipSpecialTokens);
        var text = new StringBuilder();
        foreach (var id in ids) text.Append(decoder.Append(id));
        text.Append(decoder.Flush());
        return text.ToString();
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) =>
        Decode(ids.Select(i => (long)i), skipSpecialTokens);

    /// <summary>Raw SentencePiece encoding (dummy prefix, no special-token handling).</summary>
    public IReadOnlyList<int> EncodeSentencePiece(string text) =>
        text.Length == 0 ? [] : sentencePiece.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false);

    /// <summary>The bytes a non-special piece stands for: "&lt;0xNN&gt;" is one byte, "▁" is a space.</summary>
    internal byte[] PieceBytes(int id, out bool startsWithSpace)
    {
        var piece = pieceById[id];
        if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out var b))
        {
            startsWithSpace = false;
            return [b];
        }
        startsWithSpace = piece.Length > 0 && piece[0] == SentencePieceSpace;
        return Encoding.UTF8.GetBytes(piece.Replace(SentencePieceSpace, ' '));
    }

    internal bool IsControl(long id) => id is >= 0 and <= int.MaxValue && controlIds.Contains((int)id);

    // legacy=True: each segment is a fresh sp.encode call, so text after "</s>" starts with "▁" again.
    private IEnumerable<int> EncodeLegacy(string text)
    {
        foreach (var segment in SplitOnSpecialTokens(text))
        {
            if (segment.TokenId is { } id) yield return id;
            else foreach (var piece in EncodeSentencePiece(segment.Text)) yield return piece;
        }
    }

    // legacy=False: one "▁" for the whole text, none after special tokens, and a lone "▁" before a leading special
    // token is dropped.
    private IEnumerable<int> EncodeNonLegacy(string text)
    {
        if (text.Length == 0) return [];
        var ids = new List<int>();
        foreach (var segment in SplitOnSpecialTokens(SentencePieceSpace + text.Replace(SentencePieceSpace, ' ')))
        {
            if (segment.TokenId is { } id) ids.Add(id);
            else ids.AddRange(EncodeWithoutDummyPrefix(segment.Text));
        }
        if (ids.Count > 1 && pieceById[ids[0]] == SentencePieceSpace.ToString() && IsSpecial(ids[1])) ids.RemoveAt(0);
        return ids;
    }

    private IEnumerable<int> EncodeWithoutDummyPrefix(string text)
    {
        if (text.Length == 0) return [];
        var withUnk = EncodeSentencePiece(pieceById[UnkId] + text.Replace(SentencePieceSpace, ' '));
        return withUnk.Skip(unkPrefixLength);
    }

    private readonly record struct Segment(string Text, int? TokenId);

    /// <summary>Splits text at special/added tokens (longest match first, leftmost first); empty text between them
    /// is dropped, as HF's trie split does.</summary>
    private List<Segment> SplitOnSpecialTokens(string text)
    {
        var segments = new List<Segment>();
        var start = 0;
        var position = 0;
        while (position < text.Length)
        {
            var match = splitTokensLongestFirst.FirstOrDefault(t => string.CompareOrdinal(text, position, t, 0, t.Length) == 0);
            if (match is null) { position++; continue; }
            if (position > start) segments.Add(new Segment(text[start..position], null));
            segments.Add(new Segment(match, idByToken[match]));
            position += match.Length;
            start = position;
        }
        if (start < text.Length) segments.Add(new Segment(text[start..], null));

        if (Options.StripWhitespaceAroundAddedTokens)
        {
            // transformers <= 4.28: tokens added as plain strings strip the neighbouring text on both sides
            // (bos/eos/unk/pad are AddedToken(lstrip=False, rstrip=False) and keep it).
            for (var i = 0; i < segments.Count; i++)
            {
                if (segments[i].TokenId is not { } id || !addedIds.Contains(id) || controlIds.Contains(id)) continue;
                if (i + 1 < segments.Count && segments[i + 1].TokenId is null)
                    segments[i + 1] = segments[i + 1] with { Text = segments[i + 1].Text.TrimStart() };
                if (i > 0 && segments[i - 1].TokenId is null)
                    segments[i - 1] = segments[i - 1] with { Text = segments[i - 1].Text.TrimEnd() };
            }
            segments.RemoveAll(s => s.TokenId is null && s.Text.Length == 0);
        }
        return segments;
    }

    private static JsonDocument? ReadJson(string path) =>
        File.Exists(path) ? JsonDocument.Parse(File.ReadAllText(path)) : null;

    private static bool? GetBool(JsonDocument? document, string name) =>
        document?.RootElement.TryGetProperty(name, out var value) == true && value.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? value.GetBoolean()
            : null;

    // Special tokens are written either as a string or as an AddedToken object with a "content" field.
    private static string? GetTokenString(JsonDocument? document, string name)
    {
        if (document?.RootElement.TryGetProperty(name, out var value) != true) return null;
        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object when value.TryGetProperty("content", out var content) => content.GetString(),
            _ => null,
        };
    }
}
