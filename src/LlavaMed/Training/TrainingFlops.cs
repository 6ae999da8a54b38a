namespace LlavaMed.Training;

/// <summary>Floating-point operations of one training step, counting matrix products only (attention scores, norms
/// and LoRA's rank-r products are a few percent at these lengths and left out). Per weight and position a forward is
/// 2 FLOP; the backward computes the activations' gradients (2) and, only for trained weights, the weights' own
/// gradients (2 more): a frozen base under LoRA costs 2 + 2, not the 2 + 4 of "6 N tokens". Gradient checkpointing
/// runs each decoder layer's forward again in the backward (2 more). The vision tower is frozen in every stage and
/// outside the autograd graph: its forward only.</summary>
public static class TrainingFlops
{
    /// <param name="languageMatmulParameters">the decoder's weights used in matrix products (its layers and lm_head;
    /// not the embedding table, which is a lookup)</param>
    /// <param name="positions">the step's sequence positions through the decoder (image and text, padding included)</param>
    /// <param name="visionParameters">the vision tower's weights</param>
    /// <param name="imagePositions">the step's patch positions through the vision tower (images x patches)</param>
    /// <param name="visionWeightsTrained">the tower trained too (only <c>bench train --train-vision-tower</c>, to
    /// match a peer that trains every weight): forward, backward and weight gradients, 6 per weight and position</param>
    public static double Step(long languageMatmulParameters, long positions, bool languageWeightsTrained, bool gradientCheckpointing,
                              long visionParameters, long imagePositions, bool visionWeightsTrained = false)
    {
        double perWeightAndPosition = 2 + 2 + (languageWeightsTrained ? 2 : 0) + (gradientCheckpointing ? 2 : 0);
        return perWeightAndPosition * languageMatmulParameters * positions + (visionWeightsTrained ? 6.0 : 2.0) * visionParameters * imagePositions;
    }
}
