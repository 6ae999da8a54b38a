namespace LlavaMed.Data.Synthetic;

/// <summary>The five image domains of LLaVA-Med's instruction data; their JSON names are the flag keys of the
/// released files' <c>domain</c> object (<c>chest_xray</c>, <c>ct_scan</c>, <c>mri</c>, <c>histology</c>, <c>gross</c>).</summary>
public enum BiomedicalDomain { ChestXray, CtScan, Mri, Histology, Gross }

/// <summary>One finding a domain can show. <paramref name="Key"/> is the short answer a VQA model must produce;
/// <paramref name="Synonyms"/> vary the captions; the flags say which record fields apply to it.</summary>
public sealed record FindingSpec(string Key, string Plural, IReadOnlyList<string> Synonyms, string? Abbreviation,
                                 bool Lateralized, bool Levelled, bool Sized, int MinCount, int MaxCount)
{
    public bool Countable => MaxCount > 1;
}

/// <summary>What a domain's figures look like in words: modality, anatomy, findings and (histology) stains.</summary>
public sealed record DomainSpec(BiomedicalDomain Domain, string FlagName, string Modality, string ModalityPhrase,
                                IReadOnlyList<string> ModalitySynonyms, IReadOnlyList<string> Anatomies,
                                IReadOnlyList<FindingSpec> Findings, IReadOnlyList<string> Appearances)
{
    public FindingSpec Finding(string key) => Findings.FirstOrDefault(f => f.Key == key)
        ?? throw new KeyNotFoundException($"{FlagName} has no finding '{key}'");
}

/// <summary>The small, fixed vocabulary of the synthetic corpus: 3-4 findings (plus normal) per domain and coarse
/// locations, so a tiny model can learn it from a few thousand figures.</summary>
public static class DomainCatalog
{
    public const string Normal = "normal";

    static FindingSpec F(string key, string plural, string[] synonyms, string? abbreviation = null, bool lateral = false,
                         bool level = false, bool sized = false, int min = 1, int max = 1)
        => new(key, plural, synonyms, abbreviation, lateral, level, sized, min, max);

    public static readonly IReadOnlyList<DomainSpec> Domains =
    [
        new(BiomedicalDomain.ChestXray, "chest_xray", "x-ray", "chest radiograph",
            ["chest X-ray", "chest radiograph", "posteroanterior chest radiograph", "frontal chest film"], ["chest"],
            [
                F("nodule", "nodules", ["pulmonary nodule", "nodular opacity", "rounded opacity"], lateral: true, level: true, sized: true, max: 3),
                F("pleural effusion", "pleural effusions", ["effusion", "pleural fluid collection", "blunting of the costophrenic angle"], lateral: true, sized: true),
                F("pneumothorax", "pneumothoraces", ["collapsed lung", "air in the pleural space", "visceral pleural line"], "PTX", lateral: true, sized: true),
                F("cardiomegaly", "cardiomegaly", ["enlarged heart", "enlarged cardiac silhouette", "increased cardiothoracic ratio"]),
            ], []),
        new(BiomedicalDomain.CtScan, "ct_scan", "ct", "axial CT of the abdomen",
            ["computed tomography (CT)", "axial CT", "contrast-enhanced CT", "abdominal CT"], ["abdomen"],
            [
                F("liver lesion", "liver lesions", ["hypodense hepatic lesion", "liver mass", "focal hepatic lesion"], sized: true, max: 3),
                F("kidney stone", "kidney stones", ["renal calculus", "nephrolithiasis", "hyperdense renal stone"], lateral: true, max: 2),
                F("renal cyst", "renal cysts", ["kidney cyst", "simple renal cyst", "cystic renal lesion"], lateral: true, sized: true),
                F("ascites", "ascites", ["free fluid", "peritoneal fluid", "intraperitoneal fluid"], sized: true),
            ], []),
        new(BiomedicalDomain.Mri, "mri", "mri", "axial MRI of the brain",
            ["magnetic resonance imaging (MRI)", "axial brain MRI", "T1-weighted MRI", "contrast-enhanced MR image"], ["brain"],
            [
                F("brain tumor", "brain tumors", ["intracranial mass", "ring-enhancing lesion", "enhancing mass"], lateral: true, level: true, sized: true),
                F("infarct", "infarcts", ["ischemic infarct", "infarction", "territorial infarct"], lateral: true, level: true, sized: true),
                F("hydrocephalus", "hydrocephalus", ["enlarged ventricles", "ventriculomegaly", "dilated lateral ventricles"]),
                F("white matter lesions", "white matter lesions", ["periventricular lesions", "demyelinating plaques", "white matter hyperintensities"], "WML", min: 2, max: 4),
            ], []),
        new(BiomedicalDomain.Histology, "histology", "microscopy", "photomicrograph",
            ["photomicrograph", "histological section", "microscopic image", "biopsy section"], ["liver", "colon"],
            [
                F("carcinoma", "carcinomas", ["malignant cells", "tumor cells", "adenocarcinoma"], lateral: true, level: true, sized: true),
                F("inflammation", "inflammation", ["inflammatory infiltrate", "lymphocytic infiltrate", "chronic inflammation"], lateral: true, level: true, sized: true),
                F("necrosis", "necrosis", ["necrotic area", "coagulative necrosis", "tissue necrosis"], lateral: true, level: true, sized: true),
                F("granuloma", "granulomas", ["epithelioid granuloma", "granulomatous focus", "granulomatous inflammation"], sized: true, max: 3),
            ], ["h&e", "trichrome", "ihc"]),
        new(BiomedicalDomain.Gross, "gross", "photograph", "gross specimen photograph",
            ["gross photograph", "gross specimen", "macroscopic image", "cut surface of the resected specimen"], ["kidney", "liver", "spleen"],
            [
                F("tumor", "tumors", ["well-circumscribed mass", "solid mass", "neoplasm"], lateral: true, level: true, sized: true),
                F("cyst", "cysts", ["cystic lesion", "fluid-filled cyst", "unilocular cyst"], lateral: true, level: true, sized: true, max: 2),
                F("hemorrhage", "hemorrhages", ["hematoma", "area of bleeding", "hemorrhagic focus"], lateral: true, level: true, sized: true),
            ], []),
    ];

    public static DomainSpec Get(BiomedicalDomain domain) => Domains[(int)domain];

    /// <summary>Long names of the histology stains (record <c>appearance</c>).</summary>
    public static string StainName(string stain) => stain switch
    {
        "h&e" => "hematoxylin and eosin (H&E)",
        "trichrome" => "Masson trichrome",
        "ihc" => "immunohistochemistry (IHC)",
        _ => stain,
    };

    /// <summary>The colour of a gross lesion, which the record stores as its <c>appearance</c>.</summary>
    public static string GrossLesionColour(string finding) => finding switch
    {
        "tumor" => "tan-white",
        "cyst" => "yellow",
        "hemorrhage" => "dark red",
        _ => "red-brown",
    };

    /// <summary>VQA-RAD's coarse <c>image_organ</c> (CHEST, HEAD, ABD) for an anatomy.</summary>
    public static string ImageOrgan(string anatomy) => anatomy switch
    {
        "chest" => "CHEST",
        "brain" => "HEAD",
        _ => "ABD",
    };
}
