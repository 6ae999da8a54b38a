using System.CommandLine;
using LlavaMed.Data;

namespace LlavaMed.Cli;

/// <summary><c>llava-med data convert</c>: VQA-RAD, SLAKE, PathVQA or hub Parquet files into the LLaVA-Med downstream
/// layout (<c>train.json</c>, <c>test.json</c>, ..., <c>images/</c>); prints the counts per split and answer type.</summary>
public static class DataConvertCommand
{
    static readonly Dictionary<string, VqaSource> Sources = new()
    {
        ["vqa-rad"] = VqaSource.VqaRad, ["slake"] = VqaSource.Slake, ["pathvqa"] = VqaSource.PathVqa, ["parquet"] = VqaSource.Parquet,
    };

    public static Command Create()
    {
        var from = new Option<string>("--from") { Description = "source layout: vqa-rad | slake | pathvqa | parquet", Required = true };
        from.AcceptOnlyFromAmong([.. Sources.Keys]);
        var input = new Option<string>("--input")
        {
            Description = "source folder (vqa-rad: trainset.json, testset.json, images/; slake: train/validate/test.json, imgs/; "
                          + "pathvqa: qas/*_vqa.pkl, images/; parquet: hub files such as data/train-00000-of-00001.parquet)",
            Required = true,
        };
        var output = new Option<string>("--out") { Description = "output folder", Required = true };
        var closedOptions = new Option<bool>("--closed-options")
        {
            Description = $"append \"{DownstreamFormat.ClosedOptionsSuffix.Trim()}\" to closed yes/no questions",
        };
        var skipBad = new Option<bool>("--skip-bad")
        {
            Description = "skip malformed records and records with missing images, listing each, instead of stopping at the first",
        };
        var convert = new Command("convert", "Convert a medical VQA data set into the LLaVA-Med downstream layout")
        {
            from, input, output, closedOptions, skipBad,
        };
        convert.SetAction(parse => CliErrors.Run(parse, (stdout, stderr) =>
        {
            var options = new ConvertOptions(Sources[parse.GetValue(from)!], parse.GetValue(input)!, parse.GetValue(output)!,
                                             parse.GetValue(closedOptions),
                                             parse.GetValue(skipBad) ? BadRecordPolicy.SkipAndReport : BadRecordPolicy.Fail);
            var result = DownstreamConverter.Convert(options);
            foreach (var read in result.Reads) stdout.WriteLine($"read {read}");
            foreach (var problem in result.Reads.SelectMany(r => r.Problems)) stderr.WriteLine($"skipped {problem}");
            foreach (var image in result.MissingImages) stderr.WriteLine($"skipped {image}");
            foreach (var split in result.Splits)
                stdout.WriteLine($"{split.File}: {split.Records} records: CLOSED {split.Closed} (yes/no {split.YesNo}), OPEN {split.Open}");
            stdout.WriteLine($"{result.ImagesWritten} images in {Path.Combine(options.Output, DownstreamConverter.ImageFolder)}");
            return 0;
        }));
        return convert;
    }
}
