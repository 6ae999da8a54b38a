using ScottPlot;
using SkiaSharp;

namespace LlavaMed.Plotting;

/// <summary>DejaVu Sans, embedded (data/fonts, Bitstream Vera licence), for static chart exports: a machine without
/// installed fonts (a bare CI container) would otherwise draw figures without any text, and the same font everywhere
/// makes a figure look the same on every machine.</summary>
internal sealed class EmbeddedFont : IFontResolver
{
    public const string FamilyName = "DejaVu Sans";
    const string ResourceName = "LlavaMed.Fonts.DejaVuSans.ttf";

    static readonly Lazy<SKData> FontData = new(() =>
    {
        using var stream = typeof(EmbeddedFont).Assembly.GetManifestResourceStream(ResourceName)
                           ?? throw new InvalidOperationException($"LlavaMed.dll lacks its embedded font {ResourceName}");
        return SKData.Create(stream);
    });

    static readonly Lazy<bool> Registration = new(() =>
    {
        // Resolvers are asked before the system's fonts.
        lock (Fonts.FontResolvers) Fonts.FontResolvers.Add(new EmbeddedFont());
        return true;
    });

    /// <summary>Makes <see cref="FamilyName"/> resolve to the embedded font in ScottPlot (once per process).</summary>
    public static void Register() => _ = Registration.Value;

    // One weight only: bold and italic requests get the regular face.
    public SKTypeface? CreateTypeface(string fontName, bool bold, bool italic) =>
        fontName == FamilyName ? SKTypeface.FromData(FontData.Value) : null;

    public SKTypeface? CreateTypeface(string fontName, FontWeight weight, FontSlant slant, FontSpacing spacing) =>
        CreateTypeface(fontName, bold: false, italic: false);
}
