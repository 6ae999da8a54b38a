using LlavaMed.Data.Synthetic;
using LlavaMed.Images;

namespace LlavaMed.Tests.Data.Synthetic;

public sealed class FigureRendererTests
{
    /// <summary>Where a finding changes the picture: the same record and seed drawn with and without the finding,
    /// pixels whose grey level differs by more than the noise can explain (2 x 10 levels).</summary>
    static (double Left, double Right, double Top, double Bottom) ChangedMass(FindingRecord record, int seed)
    {
        const int size = 96;
        var normal = record with { Finding = DomainCatalog.Normal, Laterality = null, Level = null, Size = null, Count = 0 };
        var withFinding = RgbImage.Decode(FigureRenderer.Render(record, size, new Random(seed)));
        var without = RgbImage.Decode(FigureRenderer.Render(normal, size, new Random(seed)));
        double left = 0, right = 0, top = 0, bottom = 0;
        for (var y = 0; y < size; y++)
            for (var x = 0; x < size; x++)
            {
                var i = (y * size + x) * 3;
                var difference = Enumerable.Range(0, 3).Max(c => Math.Abs(withFinding.Pixels[i + c] - without.Pixels[i + c]));
                if (difference <= 24) continue;
                if (x < size / 2) left++; else right++;
                if (y < size / 2) top++; else bottom++;
            }
        return (left, right, top, bottom);
    }

    public static TheoryData<BiomedicalDomain, string> LocalFindings() => new(
        DomainCatalog.Domains.SelectMany(d => d.Findings.Where(f => f.Lateralized || f.Levelled).Select(f => (d.Domain, f.Key))).ToArray());

    [Theory]
    [MemberData(nameof(LocalFindings))]
    public void FindingsAreDrawnOnTheirRecordedSideAndLevel(BiomedicalDomain domain, string finding)
    {
        var spec = DomainCatalog.Get(domain);
        var findingSpec = spec.Finding(finding);
        var radiograph = domain is BiomedicalDomain.ChestXray or BiomedicalDomain.CtScan or BiomedicalDomain.Mri;
        foreach (var side in new[] { "left", "right" })
            foreach (var level in findingSpec.Levelled ? new string?[] { "upper", "lower" } : [null])
                for (var seed = 0; seed < 3; seed++)
                {
                    var record = new FindingRecord("1_F1", "1", "F1", "Figure 1", "1_F1.png", "train", domain, spec.Modality,
                                                   spec.Anatomies[seed % spec.Anatomies.Count], finding, findingSpec.Lateralized ? side : null,
                                                   level, findingSpec.Sized ? "large" : null, findingSpec.MinCount,
                                                   domain == BiomedicalDomain.Histology ? spec.Appearances[seed] : DomainCatalog.GrossLesionColour(finding));
                    var (left, right, top, bottom) = ChangedMass(record, seed);
                    var total = left + right;
                    Assert.True(total > 12, $"{record.Domain} {finding} barely changes the image ({total} pixels)");
                    if (findingSpec.Lateralized)
                    {
                        // Radiographs show the patient's right on the image's left.
                        var expectImageLeft = radiograph ? side == "right" : side == "left";
                        var share = (expectImageLeft ? left : right) / total;
                        Assert.True(share > 0.75, $"{domain} {finding} {side} seed {seed}: only {share:P0} of the change is on the expected half");
                    }
                    if (level is not null)
                    {
                        var share = (level == "upper" ? top : bottom) / (top + bottom);
                        Assert.True(share > 0.75, $"{domain} {finding} {level} seed {seed}: only {share:P0} of the change is on the expected half");
                    }
                }
    }
}
