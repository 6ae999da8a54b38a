namespace LlavaMed.Training;

/// <summary>Hugging Face's <c>get_cosine_schedule_with_warmup</c> (what LLaVA trains with): linear warm-up from 0
/// over the warm-up steps, then a half cosine down to 0 at the last step.</summary>
public static class LearningRateSchedule
{
    public static int WarmupSteps(int totalSteps, double warmupRatio) => (int)Math.Ceiling(totalSteps * warmupRatio);

    /// <summary>The multiplier of the base learning rate for optimiser step <paramref name="step"/> (0-based).</summary>
    public static double CosineWithWarmup(int step, int totalSteps, int warmupSteps)
    {
        if (step < warmupSteps) return (double)step / Math.Max(1, warmupSteps);
        var progress = (double)(step - warmupSteps) / Math.Max(1, totalSteps - warmupSteps);
        return Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * progress)));
    }
}
