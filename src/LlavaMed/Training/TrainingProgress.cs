namespace LlavaMed.Training;

/// <summary>The one progress record of the workbench's long runs (a stage, the starting model's pretraining, the
/// curriculum, an ablation grid): a training step (<see cref="IsTrainingStep"/>: step, loss, learning rate, speed) or
/// an event of a phase (<see cref="Event"/>: "saved ...", "evaluating ...", "reused ..."). The CLI draws it as lines,
/// notebooks as a live chart. <see cref="Phase"/> is the stage's name or the phase (tokenizer, vision, language,
/// corpus, data, evaluate-*, report).</summary>
public sealed record TrainingProgress(string Phase, int Epoch, int Step, int TotalSteps, double Loss, double LearningRate,
                                      double SamplesPerSecond, TimeSpan Elapsed, TimeSpan Remaining, string? Event = null)
{
    /// <summary>This rank's matrix-product FLOP in the step (<see cref="TrainingFlops"/>); NaN on events.</summary>
    public double StepFlop { get; init; } = double.NaN;

    /// <summary>Whether this record is an optimiser step (it has a loss) rather than an event.</summary>
    public bool IsTrainingStep => !double.IsNaN(Loss);

    /// <summary>An event of <paramref name="phase"/> without a step.</summary>
    public static TrainingProgress Note(string phase, string message) =>
        new(phase, 0, 0, 0, double.NaN, 0, 0, TimeSpan.Zero, TimeSpan.Zero, message);
}
