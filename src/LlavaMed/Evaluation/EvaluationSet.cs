using LlavaMed.Data;

namespace LlavaMed.Evaluation;

/// <summary>The held-out material a model is evaluated on after each stage.</summary>
public sealed record EvaluationSet(IReadOnlyList<LlavaSample> VqaTest, string VqaImageRoot,
                                   IReadOnlyList<LlavaSample> Captions, IReadOnlyList<LlavaSample> Chat, string FigureImageRoot);
