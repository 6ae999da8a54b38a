using System.Globalization;
using System.Text;

namespace LlavaMed.Text;

/// <summary>Settings of <see cref="SentencePieceTrainer"/>; the defaults are sentencepiece's.</summary>
/// <param name="CharacterCoverage">Share of the corpus' characters that get their own piece (most frequent first);
/// the rarest characters are left to byte fallback.</param>
/// <param name="MaxPieceLength">Longest piece, in Unicode code points.</param>
public sealed record SentencePieceTrainerOptions(double CharacterCoverage = 0.9995, int MaxPieceLength = 16)
{
    public static SentencePieceTrainerOptions Default { get; } = new();
}

/// <summary>
/// A deterministic SentencePiece BPE trainer producing Llama-style models: identity normalisation with the
/// dummy-prefix "▁" and spaces escaped as "▁", digits split, byte fallback, &lt;unk&gt;/&lt;s&gt;/&lt;/s&gt; at ids
/// 0/1/2, the 256 byte pieces at 3..258, then the learned merges (score −rank) and the characters (score continuing
/// the ranks, most frequent first), as sentencepiece's <c>bpe_model_trainer</c> lays them out.
/// </summary>
/// <remarks>
/// The merge loop is exact BPE over word counts: the most frequent valid adjacent pair is merged everywhere, ties
/// going to the shorter piece, then the smaller one in code point order (sentencepiece's tie rule). Valid pieces
/// follow sentencepiece's <c>IsValidSentencePiece</c>: "▁" only as a prefix (or whitespace-only pieces), a digit only
/// on its own, no mix of Unicode scripts (approximated from code point ranges: .NET exposes no script property),
/// at most <see cref="SentencePieceTrainerOptions.MaxPieceLength"/> code points.
/// </remarks>
public static class SentencePieceTrainer
{
    public const string UnknownPiece = "<unk>";
    public const string BeginOfSentencePiece = "<s>";
    public const string EndOfSentencePiece = "</s>";

    private const char WhitespaceSymbol = '\u2581';
    private const int ByteFallbackPieceCount = 256;
    private const int MetaPieceCount = 3 + ByteFallbackPieceCount;
    private const int UnknownSymbol = -1;   // a character below the coverage threshold: nothing merges with it

    /// <summary>Learns a <paramref name="vocabSize"/>-piece model from <paramref name="sentences"/> (one sentence
    /// or line each). Throws when the corpus cannot fill the vocabulary.</summary>
    public static SentencePieceModel Train(IEnumerable<string> sentences, int vocabSize, SentencePieceTrainerOptions? options = null)
    {
        options ??= SentencePieceTrainerOptions.Default;
        if (options.CharacterCoverage is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(options), "character coverage must be in (0, 1]");
        if (options.MaxPieceLength < 1) throw new ArgumentOutOfRangeException(nameof(options), "max piece length must be positive");

        var normalized = sentences.Select(Normalize).Where(s => s.Length > 0).ToList();
        var requiredChars = SelectRequiredCharacters(normalized, (float)options.CharacterCoverage);
        var mergeBudget = vocabSize - MetaPieceCount - requiredChars.Count;
        if (mergeBudget < 0)
            throw new ArgumentException($"vocab size {vocabSize} is smaller than the {MetaPieceCount} meta pieces plus "
                                        + $"{requiredChars.Count} characters; raise it or lower the character coverage", nameof(vocabSize));

        var merges = new BpeMerger(normalized, requiredChars.Select(c => c.Character).ToHashSet(StringComparer.Ordinal), options.MaxPieceLength)
            .Learn(mergeBudget);
        if (merges.Count < mergeBudget)
            throw new InvalidOperationException($"the corpus yields only {MetaPieceCount + requiredChars.Count + merges.Count} "
                                                + $"pieces, fewer than the requested vocab size {vocabSize}");

        var pieces = new List<SentencePieceEntry>(vocabSize)
        {
            new(UnknownPiece, 0f, SentencePieceType.Unknown),
            new(BeginOfSentencePiece, 0f, SentencePieceType.Control),
            new(EndOfSentencePiece, 0f, SentencePieceType.Control),
        };
        for (var b = 0; b < ByteFallbackPieceCount; b++) pieces.Add(new($"<0x{b:X2}>", 0f, SentencePieceType.Byte));
        // Scores are -(rank among learned pieces); -(float)0 is -0.0, exactly what sentencepiece stores.
        var rank = 0;
        foreach (var merge in merges) pieces.Add(new(merge, -(float)rank++));
        foreach (var (character, _) in requiredChars) pieces.Add(new(character, -(float)rank++));

        var trainerSpec = new SentencePieceTrainerSpec
        {
            ModelType = SentencePieceModelType.Bpe,
            VocabSize = vocabSize,
            CharacterCoverage = (float)options.CharacterCoverage,
            MaxSentencePieceLength = options.MaxPieceLength,
            SplitDigits = true,
            AllowWhitespaceOnlyPieces = true,
            ByteFallback = true,
            UnkId = 0,
            BosId = 1,
            EosId = 2,
            PadId = -1,
            UnkPiece = UnknownPiece,
            BosPiece = BeginOfSentencePiece,
            EosPiece = EndOfSentencePiece,
        };
        var normalizerSpec = new SentencePieceNormalizerSpec
        {
            Name = "identity",
            PrecompiledCharsmap = [],
            AddDummyPrefix = true,
            RemoveExtraWhitespaces = false,
            EscapeWhitespaces = true,
        };
        return new SentencePieceModel(pieces, trainerSpec, normalizerSpec);
    }

    /// <summary>What sentencepiece feeds its trainer: meta-piece strings in the text blanked out (so they are not
    /// learned as ordinary pieces), then identity normalisation with the dummy prefix and spaces escaped.</summary>
    private static string Normalize(string sentence)
    {
        if (sentence.Length == 0) return "";
        var text = sentence.Replace(UnknownPiece, " ").Replace(BeginOfSentencePiece, " ").Replace(EndOfSentencePiece, " ");
        return WhitespaceSymbol + text.Replace(' ', WhitespaceSymbol);
    }

    /// <summary>sentencepiece's alphabet: characters by frequency (ties by code point) until the coverage is
    /// reached. Coverage is computed in float like the reference so the same cut falls in the same place.</summary>
    private static List<(string Character, long Count)> SelectRequiredCharacters(List<string> sentences, float coverage)
    {
        var counts = new Dictionary<int, long>();
        long total = 0;
        foreach (var sentence in sentences)
        {
            foreach (var rune in sentence.EnumerateRunes())
            {
                if (rune.Value == 0) continue;
                counts[rune.Value] = counts.GetValueOrDefault(rune.Value) + 1;
                total++;
            }
        }
        var required = new List<(string, long)>();
        long accumulated = 0;
        foreach (var (codePoint, count) in counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key))
        {
            if ((float)((double)accumulated / total) >= coverage) break;
            accumulated += count;
            required.Add((char.ConvertFromUtf32(codePoint), count));
        }
        return required;
    }

    /// <summary>BPE over the distinct words of the corpus. Each merge rewrites only the words that contain the
    /// chosen pair; pair counts live in a dictionary and candidates in a priority queue whose stale entries are
    /// skipped when popped.</summary>
    private sealed class BpeMerger
    {
        private readonly int maxPieceLength;
        private readonly List<string> symbolText = [];
        private readonly Dictionary<string, int> symbolId = new(StringComparer.Ordinal);
        private readonly List<int>[] words;
        private readonly long[] wordCounts;
        private readonly Dictionary<long, PairStats> pairs = [];
        private readonly HashSet<long> invalidPairs = [];
        private readonly PriorityQueue<long, Candidate> queue = new(CandidateOrder.Instance);

        private sealed class PairStats(long key, string merged, int length)
        {
            public readonly long Key = key;
            public long Count;
            public readonly HashSet<int> Words = [];   // may hold words that lost the pair; rechecked on merge
            public readonly string Merged = merged;
            public readonly int Length = length;
        }

        private readonly record struct Candidate(long Count, int Length, string Merged);

        public BpeMerger(List<string> sentences, HashSet<string> alphabet, int maxPieceLength)
        {
            this.maxPieceLength = maxPieceLength;
            var wordCounts = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var sentence in sentences)
                foreach (var word in SplitIntoWords(sentence))
                    wordCounts[word] = wordCounts.GetValueOrDefault(word) + 1;

            // Ordinal order makes word indices, and so every later step, independent of hashing.
            var ordered = wordCounts.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
            words = new List<int>[ordered.Count];
            this.wordCounts = new long[ordered.Count];
            for (var w = 0; w < ordered.Count; w++)
            {
                this.wordCounts[w] = ordered[w].Value;
                words[w] = ordered[w].Key.EnumerateRunes()
                    .Select(r => r.ToString())
                    .Select(c => alphabet.Contains(c) ? Intern(c) : UnknownSymbol)
                    .ToList();
                AddPairs(w, changed: null);
            }
            foreach (var stats in pairs.Values) Enqueue(stats);
        }

        /// <summary>The new pieces in merge order. A merge whose result already exists (reached through another
        /// split, e.g. "a"+"aa" after "aa"+"a") is applied to the words but adds no piece, as in sentencepiece.</summary>
        public List<string> Learn(int maxPieces)
        {
            var learned = new List<string>();
            var known = new HashSet<string>(StringComparer.Ordinal);
            while (learned.Count < maxPieces && queue.TryDequeue(out var key, out var candidate))
            {
                var stats = pairs[key];
                if (stats.Count == 0 || stats.Count != candidate.Count) continue;   // stale queue entry
                if (known.Add(stats.Merged)) learned.Add(stats.Merged);
                Merge(stats);
            }
            return learned;
        }

        private void Merge(PairStats stats)
        {
            var (left, right) = Unpack(stats.Key);
            var merged = Intern(stats.Merged);
            var changed = new HashSet<long>();
            foreach (var w in stats.Words.Order().ToList())
            {
                var word = words[w];
                if (!ContainsPair(word, left, right)) continue;
                RemovePairs(w, changed);
                for (var i = 0; i + 1 < word.Count; i++)
                {
                    if (word[i] != left || word[i + 1] != right) continue;
                    word[i] = merged;
                    word.RemoveAt(i + 1);
                }
                AddPairs(w, changed);
            }
            foreach (var changedKey in changed.Order())
            {
                var changedStats = pairs[changedKey];
                if (changedStats.Count > 0) Enqueue(changedStats);
            }
        }

        private void AddPairs(int w, HashSet<long>? changed)
        {
            var word = words[w];
            for (var i = 0; i + 1 < word.Count; i++)
            {
                if (PairStatsFor(word[i], word[i + 1]) is not { } stats) continue;
                stats.Count += wordCounts[w];
                stats.Words.Add(w);
                changed?.Add(stats.Key);
            }
        }

        private void RemovePairs(int w, HashSet<long> changed)
        {
            var word = words[w];
            for (var i = 0; i + 1 < word.Count; i++)
            {
                if (PairStatsFor(word[i], word[i + 1]) is not { } stats) continue;
                stats.Count -= wordCounts[w];
                changed.Add(stats.Key);
            }
        }

        /// <summary>The statistics of a pair, created on first sight; null for pairs that may never merge.</summary>
        private PairStats? PairStatsFor(int left, int right)
        {
            if (left == UnknownSymbol || right == UnknownSymbol) return null;
            var key = Pack(left, right);
            if (pairs.TryGetValue(key, out var stats)) return stats;
            if (invalidPairs.Contains(key)) return null;
            var merged = symbolText[left] + symbolText[right];
            var length = merged.EnumerateRunes().Count();
            if (!IsValidPiece(merged, length))
            {
                invalidPairs.Add(key);
                return null;
            }
            stats = new PairStats(key, merged, length);
            pairs[key] = stats;
            return stats;
        }

        private bool IsValidPiece(string piece, int length)
        {
            if (length > maxPieceLength) return false;
            var whitespaceOnly = piece.All(c => c == WhitespaceSymbol);
            var position = 0;
            Script? previousScript = null;
            foreach (var rune in piece.EnumerateRunes())
            {
                if (rune.Value == WhitespaceSymbol)
                {
                    if (position > 0 && !whitespaceOnly) return false;   // "▁" only as a prefix
                }
                else
                {
                    if (Rune.GetUnicodeCategory(rune) == UnicodeCategory.DecimalDigitNumber) return false;   // split_digits
                    var script = ScriptOf(rune);
                    if (previousScript is { } p && p != script) return false;
                    previousScript = script;
                }
                position++;
            }
            return true;
        }

        private void Enqueue(PairStats stats) => queue.Enqueue(stats.Key, new Candidate(stats.Count, stats.Length, stats.Merged));

        private int Intern(string text)
        {
            if (symbolId.TryGetValue(text, out var id)) return id;
            id = symbolText.Count;
            symbolText.Add(text);
            symbolId[text] = id;
            return id;
        }

        private static bool ContainsPair(List<int> word, int left, int right)
        {
            for (var i = 0; i + 1 < word.Count; i++)
                if (word[i] == left && word[i + 1] == right) return true;
            return false;
        }

        private static long Pack(int left, int right) => ((long)left << 32) | (uint)right;

        private static (int Left, int Right) Unpack(long key) => ((int)(key >> 32), (int)(key & 0xFFFFFFFF));

        /// <summary>Most frequent first; then shorter; then smaller in code point (UTF-8 byte) order.</summary>
        private sealed class CandidateOrder : IComparer<Candidate>
        {
            public static CandidateOrder Instance { get; } = new();

            public int Compare(Candidate x, Candidate y)
            {
                var byCount = y.Count.CompareTo(x.Count);
                if (byCount != 0) return byCount;
                var byLength = x.Length.CompareTo(y.Length);
                return byLength != 0 ? byLength : CompareCodePoints(x.Merged, y.Merged);
            }

            private static int CompareCodePoints(string x, string y)
            {
                var xRunes = x.EnumerateRunes();
                var yRunes = y.EnumerateRunes();
                while (true)
                {
                    var xMore = xRunes.MoveNext();
                    var yMore = yRunes.MoveNext();
                    if (!xMore || !yMore) return xMore.CompareTo(yMore);
                    var byValue = xRunes.Current.Value.CompareTo(yRunes.Current.Value);
                    if (byValue != 0) return byValue;
                }
            }
        }
    }

    /// <summary>sentencepiece's <c>SplitIntoWords</c> with whitespace-only pieces allowed: a word starts at the text
    /// start and at a "▁" that follows a non-"▁", so a run of "▁" stays with the word after it ("▁▁cat").</summary>
    private static IEnumerable<string> SplitIntoWords(string text)
    {
        var start = 0;
        for (var i = 1; i < text.Length; i++)
        {
            if (text[i] != WhitespaceSymbol || text[i - 1] == WhitespaceSymbol) continue;
            yield return text[start..i];
            start = i;
        }
        yield return text[start..];
    }

    private enum Script { Common, Inherited, Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic, Devanagari, Thai, Hangul, Han, Other }

    /// <summary>A coarse Unicode script: exact for the scripts listed, "Other" (one shared class) for the rest.
    /// Punctuation, symbols and numbers are Common, combining marks Inherited; Hiragana and Katakana count as Han,
    /// as sentencepiece merges them.</summary>
    private static Script ScriptOf(Rune rune)
    {
        var category = Rune.GetUnicodeCategory(rune);
        if (category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark)
            return Script.Inherited;
        var isLetter = category is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.LetterNumber;
        if (!isLetter) return Script.Common;
        return rune.Value switch
        {
            < 0x0370 or (>= 0x1E00 and < 0x1F00) or (>= 0x2C60 and < 0x2C80) or (>= 0xA720 and < 0xA800)
                or (>= 0xAB30 and < 0xAB70) or (>= 0xFF21 and < 0xFF5B) => Script.Latin,
            (>= 0x0370 and < 0x0400) or (>= 0x1F00 and < 0x2000) => Script.Greek,
            (>= 0x0400 and < 0x0530) or (>= 0x2DE0 and < 0x2E00) or (>= 0xA640 and < 0xA6A0) => Script.Cyrillic,
            >= 0x0530 and < 0x0590 => Script.Armenian,
            >= 0x0590 and < 0x0600 => Script.Hebrew,
            (>= 0x0600 and < 0x0700) or (>= 0x0750 and < 0x0780) or (>= 0x08A0 and < 0x0900) => Script.Arabic,
            >= 0x0900 and < 0x0980 => Script.Devanagari,
            >= 0x0E00 and < 0x0E80 => Script.Thai,
            (>= 0x1100 and < 0x1200) or (>= 0x3130 and < 0x3190) or (>= 0xAC00 and < 0xD7B0) => Script.Hangul,
            (>= 0x2E80 and < 0x2FE0) or (>= 0x3005 and < 0x3100) or (>= 0x31F0 and < 0x3200) or (>= 0x3400 and < 0xA000)
                or (>= 0xF900 and < 0xFB00) or (>= 0xFF66 and < 0xFFA0) or >= 0x20000 => Script.Han,
            _ => Script.Other,
        };
    }
}
