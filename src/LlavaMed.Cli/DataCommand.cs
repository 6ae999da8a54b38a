using System.CommandLine;
using System.Globalization;
using LlavaMed.Data.Synthetic;
using LlavaMed.Workbench;

namespace LlavaMed.Cli;

/// <summary><c>llava-med data</c>: build and convert data sets. Each subcommand lives in its own method.</summary>
public static class DataCommand
{
    public static Command Create() => new("data", "Build and convert data sets")
    {
        CreateSynth(),
        DataConvertCommand.Create(),
        SelfInstructCommand.Create(),
    };

    /// <summary><c>llava-med data synth</c>: writes the built-in synthetic corpus and prints what it wrote.</summary>
    static Command CreateSynth()
    {
        var defaults = new SyntheticCorpusOptions();
        var output = new Option<string>("--out") { Description = "folder to write the corpus into", Required = true };
        var seed = new Option<int>("--seed") { Description = "random seed; the same seed gives byte-identical files", DefaultValueFactory = _ => defaults.Seed };
        var figures = new Option<int>("--figures") { Description = "biomedical figures (spread evenly over the 5 domains)", DefaultValueFactory = _ => defaults.Figures };
        var scenes = new Option<int>("--general-scenes") { Description = "general-domain scenes", DefaultValueFactory = _ => defaults.GeneralScenes };
        var imageSize = new Option<int>("--image-size") { Description = "image side in pixels", DefaultValueFactory = _ => defaults.ImageSize };
        var command = new Command("synth", "Generate the synthetic LLaVA-Med corpus (figures, captions, VQA, chat evaluation, general scenes)")
        {
            output, seed, figures, scenes, imageSize,
        };
        command.SetAction(parse => CliErrors.Run(parse, (stdout, stderr) =>
        {
            var options = defaults with
            {
                Seed = parse.GetValue(seed), Figures = parse.GetValue(figures),
                GeneralScenes = parse.GetValue(scenes), ImageSize = parse.GetValue(imageSize),
            };
            var folder = parse.GetValue(output)!;
            var lastStage = "";
            var summary = SyntheticCorpus.Generate(folder, options, new InlineProgress<SyntheticProgress>(p =>
            {
                lock (stderr)
                    if (p.Stage != lastStage)
                    {
                        stderr.WriteLine($"{p.Stage}...");
                        lastStage = p.Stage;
                    }
            }));
            foreach (var file in summary.Files)
                stdout.WriteLine($"{file.Records,8:N0}  {file.RelativePath,-50} {file.Description}");
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {options.Figures:N0} figures and {options.GeneralScenes:N0} general scenes at {options.ImageSize} px (seed {options.Seed}) to {folder} in {summary.Elapsed.TotalSeconds:F1} s"));
            return 0;
        }));
        return command;
    }
}
