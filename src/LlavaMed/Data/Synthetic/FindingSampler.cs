namespace LlavaMed.Data.Synthetic;

/// <summary>Draws the ground truth of one figure: the domain's findings and normal are equally likely; each
/// applicable attribute (side, level, size, count, stain) is drawn uniformly and independently of the others.</summary>
static class FindingSampler
{
    public static FindingRecord Sample(Random random, BiomedicalDomain domain, int figureIndex, string split)
    {
        var spec = DomainCatalog.Get(domain);
        var anatomy = random.Pick(spec.Anatomies);
        var choice = random.Next(spec.Findings.Count + 1);
        var finding = choice == spec.Findings.Count ? null : spec.Findings[choice];
        string? appearance = domain switch
        {
            BiomedicalDomain.Histology => random.Pick(spec.Appearances),
            BiomedicalDomain.Gross => DomainCatalog.GrossLesionColour(finding?.Key ?? DomainCatalog.Normal),
            _ => null,
        };
        string[] sides = ["left", "right"], levels = ["upper", "lower"], sizes = ["small", "large"];
        var laterality = finding is { Lateralized: true } ? random.Pick(sides) : null;
        var level = finding is { Levelled: true } ? random.Pick(levels) : null;
        var size = finding is { Sized: true } ? random.Pick(sizes) : null;
        var count = finding is null ? 0 : random.Next(finding.MinCount, finding.MaxCount + 1);
        // PMC-like ids: an 8-digit PMID and the figure's number in its paper.
        var pmid = (30_000_000 + figureIndex * 7 + random.Next(7)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var number = random.Next(1, 7);
        var figId = random.Chance(0.5) ? $"F{number}" : $"fig{number}";
        var figLabel = random.Next(3) switch { 0 => $"Figure {number}", 1 => $"Fig. {number}", _ => $"FIGURE {number}" };
        var pairId = $"{pmid}_{figId}";
        return new FindingRecord(pairId, pmid, figId, figLabel, pairId + ".png", split, domain, spec.Modality, anatomy,
                                 finding?.Key ?? DomainCatalog.Normal, laterality, level, size, count, appearance);
    }
}
