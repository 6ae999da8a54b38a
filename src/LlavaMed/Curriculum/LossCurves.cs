using LlavaMed.Plotting;
using LlavaMed.Training;

namespace LlavaMed.Curriculum;

/// <summary>Collects the training steps of <see cref="TrainingProgress"/> records into one loss curve per phase: for a
/// loss chart that a notebook redraws while a stage trains, and the report's curves.</summary>
public sealed class LossCurves
{
    readonly Dictionary<string, List<double>> curves = [];

    /// <summary>Training steps so far, all phases together.</summary>
    public int Steps { get; private set; }

    /// <summary>Adds <paramref name="progress"/> when it is a training step; false for other records.</summary>
    public bool Add(TrainingProgress progress)
    {
        if (!progress.IsTrainingStep) return false;
        if (!curves.TryGetValue(progress.Phase, out var curve)) curves[progress.Phase] = curve = [];
        curve.Add(progress.Loss);
        Steps++;
        return true;
    }

    /// <summary>Each phase's losses, one per optimiser step, in the order the phases first trained.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<double>> ByPhase => curves.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<double>)kv.Value.ToList());

    /// <summary>One line per phase, x = the optimiser step within the phase.</summary>
    public IReadOnlyList<LineSeries> Series => curves.Select(kv => new LineSeries(kv.Key, kv.Value.ToArray())).ToList();
}
