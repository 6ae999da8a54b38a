using System.Net;
using LlavaMed.Evaluation;
using LlavaMed.Training;
using LlavaMed.Views;

namespace LlavaMed.Interactive;

/// <summary>HTML of the workbench's own result records.</summary>
static class WorkbenchResultViews
{
    /// <summary>A training step as a table row, an event as one line.</summary>
    public static HtmlView Training(TrainingProgress p) => !p.IsTrainingStep
        ? new HtmlView($"<p><b>{WebUtility.HtmlEncode(p.Phase)}</b>: {WebUtility.HtmlEncode(p.Event ?? "")}</p>")
        : HtmlView.Table(
        ["phase", "epoch", "step", "loss", "learning rate", "samples/s", "elapsed", "remaining", "event"],
        [[p.Phase, p.Epoch.ToString(), $"{p.Step}/{p.TotalSteps}", p.Loss.ToString("0.0000"), p.LearningRate.ToString("0.###e+0"),
          p.SamplesPerSecond.ToString("0.0"), p.Elapsed.ToString(@"hh\:mm\:ss"), p.Remaining.ToString(@"hh\:mm\:ss"), p.Event ?? ""]]);

    public static HtmlView Answers(IEnumerable<AnswerRecord> answers) => HtmlView.Table(
        ["question_id", "prompt", "text", "model_id"],
        answers.Select(a => (IReadOnlyList<string>)[a.QuestionId, a.Prompt, a.Text, a.ModelId]));
}
