using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LlavaMed.Data.Synthetic;

/// <summary>The ground truth of one synthetic biomedical figure: everything its image, caption and questions are
/// derived from. Later code (the offline self-instruct client, evaluation) reads these records instead of parsing
/// captions.</summary>
/// <param name="PairId">PMC-style figure id (<c>{pmid}_F{n}</c>), also the image's file stem.</param>
/// <param name="Image">Image file name, relative to the corpus's <c>images/</c> folder.</param>
/// <param name="Split"><c>train</c> (alignment, instruction, VQA train) or <c>test</c> (VQA test, chat evaluation).</param>
/// <param name="Finding">A finding key of the domain (<see cref="DomainCatalog"/>) or <c>normal</c>.</param>
/// <param name="Laterality"><c>left</c>/<c>right</c>; the patient's side for radiology (shown on the image's
/// opposite side, the radiological convention), the image's side for histology and gross photographs.</param>
/// <param name="Level"><c>upper</c>/<c>lower</c> (for the brain MRI: frontal/occipital).</param>
/// <param name="Size"><c>small</c>/<c>large</c>.</param>
/// <param name="Count">Number of lesions drawn (0 for normal).</param>
/// <param name="Appearance">Histology: the stain (<c>h&amp;e</c>, <c>trichrome</c>, <c>ihc</c>); gross: the lesion's colour.</param>
public sealed record FindingRecord(
    string PairId, string Pmid, string FigId, string FigLabel, string Image, string Split,
    BiomedicalDomain Domain, string Modality, string Anatomy, string Finding,
    string? Laterality, string? Level, string? Size, int Count, string? Appearance)
{
    [JsonIgnore] public bool IsNormal => Finding == DomainCatalog.Normal;
    [JsonIgnore] public DomainSpec Spec => DomainCatalog.Get(Domain);
    [JsonIgnore] public FindingSpec? FindingSpec => IsNormal ? null : Spec.Finding(Finding);

    /// <summary>The short answer to "Where is the finding?", or null when the finding has no place (normal,
    /// diffuse findings such as cardiomegaly or ascites).</summary>
    [JsonIgnore]
    public string? Location => (Domain, Finding) switch
    {
        (_, DomainCatalog.Normal) => null,
        (BiomedicalDomain.ChestXray, "nodule") => $"{Laterality} {Level} lobe",
        (BiomedicalDomain.ChestXray, "pleural effusion") => $"{Laterality} lung base",
        (BiomedicalDomain.ChestXray, "pneumothorax") => $"{Laterality} apex",
        (BiomedicalDomain.CtScan, "kidney stone" or "renal cyst") => $"{Laterality} kidney",
        (BiomedicalDomain.CtScan, "liver lesion") => "liver",
        (BiomedicalDomain.Mri, "brain tumor" or "infarct") => $"{Laterality} {(Level == "upper" ? "frontal" : "occipital")} lobe",
        (BiomedicalDomain.Mri, "white matter lesions") => "periventricular",
        (BiomedicalDomain.Histology or BiomedicalDomain.Gross, _) when Laterality is not null => $"{Level} {Laterality}",
        _ => null,
    };

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>Reads a <c>findings.json</c> array strictly: a malformed record is an error naming its index.</summary>
    public static IReadOnlyList<FindingRecord> ReadAll(string path)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new DataFormatException(path, $"line {e.LineNumber + 1}", $"invalid JSON ({e.Message})");
        }
        if (root is not JsonArray array) throw new DataFormatException(path, "top level", "expected a JSON array of finding records");
        return array.Select((node, i) =>
        {
            FindingRecord? record;
            try
            {
                record = node.Deserialize<FindingRecord>(Json);
            }
            catch (JsonException e)
            {
                throw new DataFormatException(path, $"[{i}]", e.Message);
            }
            if (record?.PairId is null || record.Image is null || record.Finding is null || record.Anatomy is null)
                throw new DataFormatException(path, $"[{i}]", "missing pair_id, image, anatomy or finding");
            if (!record.IsNormal && record.Spec.Findings.All(f => f.Key != record.Finding))
                throw new DataFormatException(path, $"[{i}]", $"unknown finding '{record.Finding}' for {record.Spec.FlagName}");
            return record;
        }).ToList();
    }
}
