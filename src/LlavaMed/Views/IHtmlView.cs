namespace LlavaMed.Views;

/// <summary>Something a notebook shows as HTML (the kernel adapter, src/LlavaMed.Interactive, registers the
/// formatter; the library itself knows nothing of the kernel).</summary>
public interface IHtmlView
{
    /// <summary>A self-contained HTML fragment (no external resources).</summary>
    string Html { get; }
}
