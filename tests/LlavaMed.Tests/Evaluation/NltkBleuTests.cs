using LlavaMed.Evaluation;

namespace LlavaMed.Tests.Evaluation;

public sealed class NltkBleuTests
{
    static string[] Words(string text) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    static double Bleu(string reference, string hypothesis, double[] weights) =>
        NltkBleu.SentenceBleu(Words(reference), Words(hypothesis), weights);

    [Fact]
    public void IdenticalSentencesScore1()
    {
        foreach (var weights in new[] { NltkBleu.Uniform4, NltkBleu.Only(1), NltkBleu.Only(4) })
            Assert.Equal(1.0, Bleu("a b c d e", "a b c d e", weights));
    }

    [Fact]
    public void NoUnigramMatchOrEmptyHypothesisIsExactly0()
    {
        Assert.Equal(0.0, Bleu("liver", "kidney", NltkBleu.Uniform4));
        Assert.Equal(0.0, Bleu("liver", "", NltkBleu.Only(1)));
        Assert.Equal(0.0, Bleu("", "liver", NltkBleu.Only(1)));
    }

    [Fact]
    public void ShortHypothesisPaysTheBrevityPenalty()
    {
        // c = 1, r = 2: BP = exp(1 - 2) (reference: 0.36787944117144233).
        Assert.Equal(Math.Exp(-1), Bleu("pleural effusion", "effusion", NltkBleu.Only(1)));
        Assert.Equal(Math.Exp(-1), NltkBleu.BrevityPenalty(2, 1));
        Assert.Equal(1.0, NltkBleu.BrevityPenalty(1, 2));
        Assert.Equal(1.0, NltkBleu.BrevityPenalty(2, 2));
        Assert.Equal(0.0, NltkBleu.BrevityPenalty(2, 0));
        // c = 4, r = 5: BP = exp(-1/4); bigram precision 2/3, trigram 1/2 (reference: 0.5192005220476033, 0.38940039153570244).
        Assert.Equal(Math.Exp(-0.25) * 2 / 3, Bleu("left upper lobe of lung", "left lobe of lung", NltkBleu.Only(2)), 15);
        Assert.Equal(Math.Exp(-0.25) / 2, Bleu("left upper lobe of lung", "left lobe of lung", NltkBleu.Only(3)), 15);
    }

    [Fact]
    public void ModifiedPrecisionClipsRepeatsAndHasADenominatorOfAtLeast1()
    {
        Assert.Equal((1, 2), NltkBleu.ModifiedPrecision(Words("liver"), Words("liver liver"), 1));
        Assert.Equal((0, 1), NltkBleu.ModifiedPrecision(Words("pleural effusion"), Words("effusion"), 2));
        Assert.Equal(0.5, Bleu("liver", "liver liver", NltkBleu.Only(1)));
    }

    [Fact]
    public void AZeroHigherOrderPrecisionBecomesTheSmallestNormalDoubleNot0()
    {
        // nltk's method0 swaps 0 for sys.float_info.min: exp(ln(2.2250738585072014e-308)) times BP e^-1
        // (reference: 8.18558927632837e-309, a subnormal, not 0).
        Assert.Equal(8.18558927632837e-309, Bleu("pleural effusion", "effusion", NltkBleu.Only(2)));
        // A one-word exact answer under uniform weights: exp(0.75 ln min) (reference: 1.821831989445342e-231).
        Assert.Equal(1.821831989445342e-231, Bleu("liver", "liver", NltkBleu.Uniform4));
        // With weight 0 the zero precision contributes nothing.
        Assert.Equal(1.0, Bleu("liver", "liver", NltkBleu.Only(1)));
    }

    [Fact]
    public void FSumIsCorrectlyRounded()
    {
        Assert.Equal(1e-16, PythonText.FSum([1.0, 1e-16, -1.0]));
        Assert.Equal(0.0, PythonText.FSum([]));
        Assert.Equal(1.0, PythonText.FSum(Enumerable.Repeat(0.1, 10)));  // naive addition gives 0.9999999999999999
        Assert.Equal(2.0000000000000004, PythonText.FSum([1.0, 1.0000000000000002, 1e-300]));
    }
}
