namespace LlavaMed.Images;

/// <summary>How a non-square image is fitted before CLIP preprocessing (LLaVA config key <c>image_aspect_ratio</c>).
/// </summary>
public enum ImageAspectMode
{
    /// <summary>"pad": paste onto a square canvas of the mean colour (<c>expand2square</c>), as LLaVA-Med v1.5 does.
    /// </summary>
    Pad,

    /// <summary>Anything else: no padding; the resize keeps the aspect ratio and the centre crop cuts the rest, as
    /// LLaVA-Med v1.0 does.</summary>
    None,
}

public static class ImageAspectModes
{
    /// <summary>Maps a model config's <c>image_aspect_ratio</c> value the way LLaVA's <c>process_images</c> does:
    /// exactly "pad" pads, any other value (or none) does not.</summary>
    public static ImageAspectMode FromConfigValue(string? imageAspectRatio) =>
        imageAspectRatio == "pad" ? ImageAspectMode.Pad : ImageAspectMode.None;
}
