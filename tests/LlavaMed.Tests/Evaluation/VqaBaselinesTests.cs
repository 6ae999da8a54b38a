using LlavaMed.Data;
using LlavaMed.Evaluation;
using static LlavaMed.Tests.Evaluation.ReportTestData;

namespace LlavaMed.Tests.Evaluation;

public class VqaBaselinesTests
{
    static readonly LlavaSample[] Training =
    [
        Question("t1", "Is there a fracture?", "no", "CLOSED"),
        Question("t2", "Is there a fracture?", "No", "CLOSED"),
        Question("t3", "Is the liver enlarged?", "yes", "CLOSED"),
        Question("t4", "Is this an MRI?", "yes", "CLOSED "),
        Question("t5", "Is this an MRI?", "yes", "closed"),
        Question("t6", "What organ is shown?", "brain", "OPEN"),
        Question("t7", "What organ is shown?", "brain", "OPEN"),
        Question("t8", "Where is the lesion?", "left lung", "OPEN"),
        Question("t9", "What modality is used?", "ct", "OPEN"),
        Question("t10", "What modality is used?", "ct", "OPEN"),
        Question("t11", "What modality is used?", "ct", "OPEN"),
    ];

    [Fact]
    public void MajorityIsPerAnswerTypeCountedAfterNormalisationInTheCommonestSpelling()
    {
        var majority = VqaBaselines.MajorityAnswers(Training);

        // CLOSED: yes 3 (t3, t4, t5: "CLOSED " and "closed" are CLOSED) against no 2 ("no" and "No").
        Assert.Equal("yes", majority["CLOSED"]);
        Assert.Equal("ct", majority["OPEN"]);
        // Overall: ct and yes 3 each; the tie goes to the normalised answer that sorts first.
        Assert.Equal("ct", majority[""]);
        Assert.Equal("No", VqaBaselines.MostFrequent(["No", "no", "No", "yes"]));
        Assert.Equal("a", VqaBaselines.MostFrequent(["b", "a"]));
        // Spellings tied in count: the first met.
        Assert.Equal("no", VqaBaselines.MostFrequent(["no ", "No"]));
    }

    [Fact]
    public void MajorityBaselineAnswersEveryQuestionInOrderAndIsScoredLikeAModel()
    {
        LlavaSample[] test =
        [
            Question("q1", "Is there a mass?", "yes", "CLOSED"),
            Question("q2", "What is this?", "ct", "OPEN"),
            Question("q3", "Is there a fracture?", "no", "CLOSED"),
            Question("q4", "Anything?", "ct", "OTHER"),
        ];
        var answers = VqaBaselines.MajorityAnswer(Training, test);

        Assert.Equal(["q1", "q2", "q3", "q4"], answers.Select(a => a.QuestionId));
        // q4's type is not in the training set: the overall majority.
        Assert.Equal(["yes", "ct", "yes", "ct"], answers.Select(a => a.Text));
        Assert.All(answers, a => Assert.Equal(VqaBaselines.MajorityAnswerModelId, a.ModelId));
        Assert.Equal("Is there a mass?", answers[0].Prompt);
        var report = VqaEvaluation.Evaluate(test, answers);
        Assert.Equal(0.5, report.Strict!.ClosedAccuracy);
        Assert.Equal(1.0, report.Strict.OpenExactMatch);
    }

    [Fact]
    public void QuestionOnlyUsesTheSameQuestionThenTheNearestThenTheMajority()
    {
        LlavaSample[] test =
        [
            Question("q1", "Is there a fracture? Please choose from the following two options: [yes, no]", "no", "CLOSED"),
            Question("q2", "what ORGAN is shown", "brain", "OPEN"),
            Question("q3", "Where is the lesion located?", "left lung", "OPEN"),
            Question("q4", "Calcified?", "yes", "CLOSED"),
            // Same words as an open training question, but closed: only closed questions are candidates.
            Question("q5", "What organ is shown?", "no", "CLOSED"),
        ];
        var answers = VqaBaselines.QuestionOnly(Training, test);

        Assert.Equal(["no", "brain", "left lung", "yes", "yes"], answers.Select(a => a.Text));
        Assert.Equal(["exact-question", "exact-question", "nearest-question", "majority", "nearest-question"],
                     answers.Select(a => (string)a.Metadata!["source"]!));
        // "where is lesion located" against "where is lesion": 3 shared of 4 words.
        Assert.Equal(0.75, (double)answers[2].Metadata!["similarity"]!);
        Assert.All(answers, a => Assert.Equal(VqaBaselines.QuestionOnlyModelId, a.ModelId));
        Assert.Equal(5, answers.Select(a => a.AnswerId).Distinct().Count());
    }

    [Fact]
    public void NearestQuestionsVoteOnTheAnswer()
    {
        LlavaSample[] training =
        [
            Question("a", "Is the heart enlarged?", "yes", "CLOSED"),
            Question("b", "Is the heart normal?", "no", "CLOSED"),
            Question("c", "Is the heart small?", "no", "CLOSED"),
        ];
        // "is heart big" shares 2 of 4 words with each: all three vote, "no" wins 2 to 1.
        var answer = Assert.Single(VqaBaselines.QuestionOnly(training, [Question("q", "Is the heart big?", "yes", "CLOSED")]));
        Assert.Equal("no", answer.Text);
        Assert.Equal("nearest-question", (string)answer.Metadata!["source"]!);
    }

    /// <summary>The always-"no" majority baseline on the whole VQA-RAD test split (272 closed questions, 133 of them
    /// "no"): v1.0.0's run_eval.py rule and the strict rule give 133/272; the pre-fix rule drops every miss and gives 1.</summary>
    [Fact]
    public void AlwaysNoOnVqaRadScoresUnderEachClosedRule()
    {
        var folder = Path.GetDirectoryName(SharedFixtures.Require("datasets", "vqa-rad", "testset.json"))!;
        var set = VqaEvaluationSet.FromVqaRad(folder);
        var report = VqaEvaluation.Evaluate(set.Test, VqaBaselines.MajorityAnswer(set.Train, set.Test));
        var v1 = report.LlavaMedV1!;
        Assert.Equal((272, 133.0 / 272), (v1.Closed, v1.ClosedAccuracy));
        Assert.Equal((133, 1.0), (v1.ClosedCountedPreFix, v1.ClosedAccuracyPreFix));
        Assert.Equal(133.0 / 272, report.Strict!.ClosedAccuracy);
    }

    [Fact]
    public void EmptyTrainingSetIsAnError()
    {
        Assert.Throws<ArgumentException>(() => VqaBaselines.MajorityAnswer([], [Question("q", "Is it?", "yes", "CLOSED")]));
        Assert.Throws<ArgumentException>(() => VqaBaselines.QuestionOnly([], [Question("q", "Is it?", "yes", "CLOSED")]));
    }
}
