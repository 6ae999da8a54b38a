using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using LlavaMed.Text;

namespace LlavaMed.Data;

/// <summary>The LLaVA-Med downstream record (README "Medical VQA": <c>train.json</c>, <c>test.json</c>, <c>images/</c>),
/// which the authors described but never released: <c>id</c>, <c>image</c>, <c>answer_type</c> and one human/gpt
/// turn pair whose question starts with <c>&lt;image&gt;\n</c>.</summary>
public static class DownstreamFormat
{
    /// <summary>The suffix LLaVA-Med's conversion script adds to closed yes/no questions.</summary>
    public const string ClosedOptionsSuffix = " Please choose from the following two options: [yes, no]";

    public static LlavaSample ToSample(VqaItem item, bool closedOptions) =>
        new(item.Id, item.Image,
            [
                new ConversationTurn(ConversationTurn.HumanSpeaker,
                                     $"{LlavaTokenizer.ImagePlaceholder}\n{item.Question}{(closedOptions && item.IsYesNo ? ClosedOptionsSuffix : "")}"),
                new ConversationTurn(ConversationTurn.GptSpeaker, item.Answer),
            ],
            item.AnswerType);

    /// <summary>Writes samples as an indented JSON array, one record at a time.</summary>
    public static void Write(string path, IEnumerable<LlavaSample> samples)
    {
        using var stream = File.Create(path);
        using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions
        {
            Indented = true,
            // Keeps '<image>' and non-English text readable; the output is still valid JSON.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        });
        writer.WriteStartArray();
        foreach (var sample in samples) sample.ToJson().WriteTo(writer);
        writer.WriteEndArray();
    }
}

public enum VqaSource { VqaRad, Slake, PathVqa, Parquet }

/// <summary>What <see cref="DownstreamConverter.Convert"/> does. <see cref="Policy"/> governs malformed records and
/// records whose image is missing or rejected: fail on the first, or skip and list them.</summary>
public sealed record ConvertOptions(VqaSource Source, string Input, string Output, bool ClosedOptions = false,
                                    BadRecordPolicy Policy = BadRecordPolicy.Fail);

/// <summary>Counts of one written split: records by answer type, and the closed yes/no questions among them.</summary>
public sealed record SplitCounts(string Split, string File, int Records, int Closed, int Open, int YesNo);

/// <summary>The result of a conversion: counts per split, every file's read report (bad and excluded records), the
/// records left out for missing images, and how many image files were written.</summary>
public sealed record ConversionResult(IReadOnlyList<SplitCounts> Splits, IReadOnlyList<ReadReport> Reads,
                                      IReadOnlyList<MissingImage> MissingImages, int ImagesWritten);

/// <summary>Converts VQA-RAD, SLAKE, PathVQA (released layouts) or hub Parquet files into the LLaVA-Med downstream
/// layout: <c>{split}.json</c> per split and the images they name under <c>images/</c> (copied, or for Parquet
/// decoded from the rows and named by content hash so repeated images are stored once). Record order is the
/// source's order (VQA-RAD's 451 test questions stay in their published order).</summary>
public static class DownstreamConverter
{
    public const string ImageFolder = "images";

    /// <summary>A split as read. <see cref="ImageRoot"/> is where its images are to be copied from; null when the
    /// reader already wrote them (Parquet rows carry their image bytes).</summary>
    sealed record SourceSplit(string Split, IReadOnlyList<VqaItem> Items, IReadOnlyList<ReadReport> Reports, string? ImageRoot);

    public static ConversionResult Convert(ConvertOptions options)
    {
        if (!Directory.Exists(options.Input)) throw new DirectoryNotFoundException($"input folder not found: {options.Input}");
        var outputImages = Path.Combine(options.Output, ImageFolder);
        Directory.CreateDirectory(outputImages);
        var written = new HashSet<string>(StringComparer.Ordinal);
        var splits = ReadSplits(options, outputImages, written).ToList();
        if (splits.Count == 0) throw new FileNotFoundException($"no {options.Source} split files found in {options.Input}");
        var counts = new List<SplitCounts>();
        var missing = new List<MissingImage>();
        foreach (var split in splits)
        {
            var items = split.Items;
            if (split.ImageRoot is { } root)
            {
                var missingHere = ImageCheck.FindMissing(items.Select(i => DownstreamFormat.ToSample(i, false)), root);
                if (missingHere.Count > 0 && options.Policy == BadRecordPolicy.Fail)
                    throw new InvalidDataException($"{missingHere.Count} {split.Split} records name missing or rejected images, "
                                                   + $"e.g. {missingHere[0]} (use skip-and-report to leave them out and list them)");
                missing.AddRange(missingHere);
                var leftOut = missingHere.Select(m => m.SampleId).ToHashSet();
                items = items.Where(i => !leftOut.Contains(i.Id)).ToList();
                foreach (var image in items.Select(i => i.Image).Distinct())
                    if (written.Add(image)) Copy(ImagePaths.Resolve(root, image), ImagePaths.Resolve(outputImages, image));
            }
            var file = $"{split.Split}.json";
            DownstreamFormat.Write(Path.Combine(options.Output, file), items.Select(i => DownstreamFormat.ToSample(i, options.ClosedOptions)));
            counts.Add(new SplitCounts(split.Split, file, items.Count, items.Count(i => i.IsClosed), items.Count(i => !i.IsClosed),
                                       items.Count(i => i.IsYesNo)));
        }
        return new ConversionResult(counts, splits.SelectMany(s => s.Reports).ToList(), missing, written.Count);
    }

    static void Copy(string from, string to)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(to)!);
        File.Copy(from, to, overwrite: true);
    }

    static IEnumerable<SourceSplit> ReadSplits(ConvertOptions options, string outputImages, HashSet<string> written)
    {
        var input = options.Input;
        IEnumerable<SourceSplit> FromFiles<T>(IReadOnlyList<(string Split, string File)> files, string imageFolder,
                                              Func<string, RecordStream<T>> open, Func<T, string, VqaItem> toItem) where T : class
        {
            foreach (var (split, file) in files)
            {
                var path = Path.Combine(input, file);
                if (!File.Exists(path)) continue;
                var stream = open(path);
                var items = stream.Select(record => toItem(record, split)).ToList();
                yield return new SourceSplit(split, items, [stream.Report], Path.Combine(input, imageFolder));
            }
        }
        return options.Source switch
        {
            VqaSource.VqaRad => FromFiles(VqaRad.SplitFiles, VqaRad.ImageFolder, p => VqaRad.Read(p, options.Policy), (q, _) => q.ToVqaItem()),
            VqaSource.Slake => FromFiles(Slake.SplitFiles, Slake.ImageFolder, p => Slake.Read(p, options.Policy), (q, _) => q.ToVqaItem()),
            VqaSource.PathVqa => FromFiles(PathVqa.SplitFiles, PathVqa.ImageFolder, p => PathVqa.Read(p, options.Policy), (q, split) => q.ToVqaItem(split)),
            VqaSource.Parquet => ParquetSplits(input, options.Policy, outputImages, written),
            _ => throw new ArgumentOutOfRangeException(nameof(options)),
        };
    }

    /// <summary>Hub files of one split (<c>train-00000-of-00002.parquet</c>, <c>train-00001-...</c>) are read in name
    /// order into one split; ids are <c>{split}_{row}</c>, rows counted across the split's files. Images are written
    /// as the rows stream by, named by content hash so an image shared by many questions is stored once.</summary>
    static IEnumerable<SourceSplit> ParquetSplits(string input, BadRecordPolicy policy, string outputImages, HashSet<string> written)
    {
        var files = Directory.EnumerateFiles(input, "*.parquet", SearchOption.AllDirectories).Order(StringComparer.Ordinal);
        foreach (var group in files.GroupBy(HubParquet.SplitOf))
        {
            var items = new List<VqaItem>();
            var reports = new List<ReadReport>();
            long rowsBefore = 0;
            foreach (var file in group)
            {
                var stream = HubParquet.Read(file, policy);
                foreach (var row in stream)
                {
                    var image = System.Convert.ToHexStringLower(SHA256.HashData(row.ImageBytes))[..16] + row.ImageExtension;
                    if (written.Add(image)) File.WriteAllBytes(Path.Combine(outputImages, image), row.ImageBytes);
                    items.Add(row.ToVqaItem($"{group.Key}_{rowsBefore + row.Row}", image));
                }
                rowsBefore += stream.Report.Read;
                reports.Add(stream.Report);
            }
            yield return new SourceSplit(group.Key, items, reports, null);
        }
    }
}
