using System.Text;

namespace LlavaMed.Evaluation;

/// <summary>The answer normalisation of LLaVA-Med v1.0.0 (<c>llava/eval/eval_metrics/glossary.py</c>,
/// <c>normalize_word</c>, itself the VQA v2 evaluation's), reproduced with its quirks:
/// <list type="number">
/// <item>The punctuation <c>; / [ ] " { } ( ) = + \ _ - &gt; &lt; @ ` , ? !</c> is deleted when that mark stands
/// next to a space anywhere in the text, or when the text holds a digit-comma-digit anywhere; otherwise it becomes a
/// space (so "x-ray" gives "x ray", "x - ray" and "x-ray 1,000" delete it). Other marks (<c>: ' * % #</c> ...)
/// stay.</item>
/// <item>A period not followed by a digit is deleted, but only the first 32 of them: the reference passes
/// <c>re.UNICODE</c> (= 32) where <c>re.sub</c> takes its count.</item>
/// <item>Lower case, split on whitespace; the words none/zero..ten become 0..10; then a/an/the are dropped (so
/// "none" is kept as "0"); then contraction spellings without apostrophe get one ("dont" → "don't").</item>
/// </list>
/// Lower case is Python's (<see cref="PythonText.Lower"/>).</summary>
public static class LlavaMedText
{
    static readonly char[] Punctuation = [';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!'];

    /// <summary>The glossary's 32-period limit (<c>re.UNICODE</c> passed as <c>count</c>).</summary>
    const int PeriodLimit = 32;

    static readonly Dictionary<string, string> NumberWords = new()
    {
        ["none"] = "0", ["zero"] = "0", ["one"] = "1", ["two"] = "2", ["three"] = "3", ["four"] = "4",
        ["five"] = "5", ["six"] = "6", ["seven"] = "7", ["eight"] = "8", ["nine"] = "9", ["ten"] = "10",
    };

    static readonly HashSet<string> Articles = ["a", "an", "the"];

    // The glossary's table, less its four keys with capitals ("Id've", "I'dve", "Im", "Ive"), which can never
    // match since words are lower-cased first. "somebody'd" really maps to "somebodyd" there.
    static readonly Dictionary<string, string> Contractions = new()
    {
        ["aint"] = "ain't", ["arent"] = "aren't", ["cant"] = "can't", ["couldve"] = "could've",
        ["couldnt"] = "couldn't", ["couldn'tve"] = "couldn't've", ["couldnt've"] = "couldn't've",
        ["didnt"] = "didn't", ["doesnt"] = "doesn't", ["dont"] = "don't", ["hadnt"] = "hadn't",
        ["hadnt've"] = "hadn't've", ["hadn'tve"] = "hadn't've", ["hasnt"] = "hasn't", ["havent"] = "haven't",
        ["hed"] = "he'd", ["hed've"] = "he'd've", ["he'dve"] = "he'd've", ["hes"] = "he's", ["howd"] = "how'd",
        ["howll"] = "how'll", ["hows"] = "how's", ["isnt"] = "isn't", ["itd"] = "it'd", ["itd've"] = "it'd've",
        ["it'dve"] = "it'd've", ["itll"] = "it'll", ["let's"] = "let's", ["maam"] = "ma'am",
        ["mightnt"] = "mightn't", ["mightnt've"] = "mightn't've", ["mightn'tve"] = "mightn't've",
        ["mightve"] = "might've", ["mustnt"] = "mustn't", ["mustve"] = "must've", ["neednt"] = "needn't",
        ["notve"] = "not've", ["oclock"] = "o'clock", ["oughtnt"] = "oughtn't", ["ow's'at"] = "'ow's'at",
        ["'ows'at"] = "'ow's'at", ["'ow'sat"] = "'ow's'at", ["shant"] = "shan't", ["shed've"] = "she'd've",
        ["she'dve"] = "she'd've", ["she's"] = "she's", ["shouldve"] = "should've", ["shouldnt"] = "shouldn't",
        ["shouldnt've"] = "shouldn't've", ["shouldn'tve"] = "shouldn't've", ["somebody'd"] = "somebodyd",
        ["somebodyd've"] = "somebody'd've", ["somebody'dve"] = "somebody'd've", ["somebodyll"] = "somebody'll",
        ["somebodys"] = "somebody's", ["someoned"] = "someone'd", ["someoned've"] = "someone'd've",
        ["someone'dve"] = "someone'd've", ["someonell"] = "someone'll", ["someones"] = "someone's",
        ["somethingd"] = "something'd", ["somethingd've"] = "something'd've", ["something'dve"] = "something'd've",
        ["somethingll"] = "something'll", ["thats"] = "that's", ["thered"] = "there'd", ["thered've"] = "there'd've",
        ["there'dve"] = "there'd've", ["therere"] = "there're", ["theres"] = "there's", ["theyd"] = "they'd",
        ["theyd've"] = "they'd've", ["they'dve"] = "they'd've", ["theyll"] = "they'll", ["theyre"] = "they're",
        ["theyve"] = "they've", ["twas"] = "'twas", ["wasnt"] = "wasn't", ["wed've"] = "we'd've",
        ["we'dve"] = "we'd've", ["weve"] = "we've", ["werent"] = "weren't", ["whatll"] = "what'll",
        ["whatre"] = "what're", ["whats"] = "what's", ["whatve"] = "what've", ["whens"] = "when's",
        ["whered"] = "where'd", ["wheres"] = "where's", ["whereve"] = "where've", ["whod"] = "who'd",
        ["whod've"] = "who'd've", ["who'dve"] = "who'd've", ["wholl"] = "who'll", ["whos"] = "who's",
        ["whove"] = "who've", ["whyll"] = "why'll", ["whyre"] = "why're", ["whys"] = "why's", ["wont"] = "won't",
        ["wouldve"] = "would've", ["wouldnt"] = "wouldn't", ["wouldnt've"] = "wouldn't've",
        ["wouldn'tve"] = "wouldn't've", ["yall"] = "y'all", ["yall'll"] = "y'all'll", ["y'allll"] = "y'all'll",
        ["yall'd've"] = "y'all'd've", ["y'alld've"] = "y'all'd've", ["y'all'dve"] = "y'all'd've",
        ["youd"] = "you'd", ["youd've"] = "you'd've", ["you'dve"] = "you'd've", ["youll"] = "you'll",
        ["youre"] = "you're", ["youve"] = "you've",
    };

    /// <summary><c>normalize_word</c>: see the class summary for each step.</summary>
    public static string Normalize(string text)
    {
        bool deleteMarks = HasDigitCommaDigit(text);
        var spaced = text;
        foreach (var mark in Punctuation)
        {
            // The reference tests the original text for each mark, not the text as rewritten so far.
            bool delete = deleteMarks || text.Contains($"{mark} ", StringComparison.Ordinal)
                                      || text.Contains($" {mark}", StringComparison.Ordinal);
            spaced = spaced.Replace(mark.ToString(), delete ? "" : " ", StringComparison.Ordinal);
        }
        var words = new List<string>();
        foreach (var raw in PythonText.Split(PythonText.Lower(StripPeriods(spaced))))
        {
            var word = NumberWords.GetValueOrDefault(raw, raw);
            if (!Articles.Contains(word)) words.Add(Contractions.GetValueOrDefault(word, word));
        }
        return string.Join(' ', words);
    }

    /// <summary><c>split_sentence(text, 1)</c>: lower case, whitespace words, each word's count (in first-seen order).</summary>
    public static Dictionary<string, int> WordCounts(string text)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var word in PythonText.Split(PythonText.Lower(text)))
            counts[word] = counts.GetValueOrDefault(word) + 1;
        return counts;
    }

    static bool HasDigitCommaDigit(string text)
    {
        for (int i = 1; i + 1 < text.Length; i++)
            if (text[i] == ',' && PythonText.IsDigitBefore(text, i) && PythonText.IsDigitAt(text, i + 1)) return true;
        return false;
    }

    /// <summary>Deletes the first <see cref="PeriodLimit"/> periods that no digit follows (the reference's
    /// <c>(?!&lt;=\d)</c> is a malformed look-behind that never fires, so a digit before the period does not
    /// protect it).</summary>
    static string StripPeriods(string text)
    {
        var result = new StringBuilder(text.Length);
        int deleted = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '.' && deleted < PeriodLimit && !PythonText.IsDigitAt(text, i + 1))
            {
                deleted++;
                continue;
            }
            result.Append(text[i]);
        }
        return result.ToString();
    }
}
