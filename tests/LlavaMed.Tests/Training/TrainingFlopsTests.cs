using LlavaMed.Training;

namespace LlavaMed.Tests.Training;

public sealed class TrainingFlopsTests
{
    [Fact]
    public void AFrozenBaseCostsForwardAndActivationGradientsAndCheckpointingAddsOneForward()
    {
        // 10 weights x 3 positions; a vision tower of 5 weights over 4 patches adds its forward (2 x 5 x 4 = 40).
        Assert.Equal(4 * 30 + 40, TrainingFlops.Step(10, 3, languageWeightsTrained: false, gradientCheckpointing: false, 5, 4));
        Assert.Equal(6 * 30 + 40, TrainingFlops.Step(10, 3, languageWeightsTrained: false, gradientCheckpointing: true, 5, 4));
    }

    [Fact]
    public void TrainedWeightsAddTheirGradientsTheClassicSixNTokens()
    {
        Assert.Equal(6 * 30, TrainingFlops.Step(10, 3, languageWeightsTrained: true, gradientCheckpointing: false, 0, 0));
        Assert.Equal(8 * 30, TrainingFlops.Step(10, 3, languageWeightsTrained: true, gradientCheckpointing: true, 0, 0));
        Assert.Equal(6 * 30 + 6 * 20, TrainingFlops.Step(10, 3, languageWeightsTrained: true, gradientCheckpointing: false, 5, 4, visionWeightsTrained: true));
    }
}
