using System.CommandLine;
using LlavaMed.Checkpoints;
using LlavaMed.Images;
using LlavaMed.Inference;
using LlavaMed.Models;
using LlavaMed.Workbench;

namespace LlavaMed.Cli;

/// <summary><c>llava-med ask</c>: one question about one image, the answer streamed as it is generated.</summary>
public static class AskCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "checkpoint folder (default: the fixture or built-in demo checkpoint)" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer folder (default: the model folder)" };
        var image = new Option<string?>("--image") { Description = "image file (JPEG or PNG)" };
        var question = new Option<string>("--question") { Description = "the question", DefaultValueFactory = _ => "What is shown in this image?" };
        var conv = new Option<string?>("--conv") { Description = "conversation template (default: mistral_instruct for v1.5, simple for v1.0)" };
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "most tokens to generate", DefaultValueFactory = _ => 512 };
        var temperature = new Option<double>("--temperature") { Description = "0 = greedy (LLaVA-Med v1.5's setting)", DefaultValueFactory = _ => 0.0 };
        var showPrompt = new Option<bool>("--show-prompt") { Description = "print the prompt exactly as the model sees it" };
        var adapter = AdapterOption.Create();
        var command = new Command("ask", "Ask the model a question about an image")
        {
            adapter, model, tokenizer, image, question, conv, maxNewTokens, temperature, showPrompt,
        };
        var placement = new PlacementCliOptions();
        placement.AddTo(command);
        command.SetAction(parse => CliErrors.Run(parse, (output, error) =>
        {
            var defaults = parse.GetValue(model) is null ? DefaultAssets.Resolve(error.WriteLine) : null;
            var modelFolder = parse.GetValue(model) ?? defaults!.ModelFolder;
            var imagePath = parse.GetValue(image) ?? defaults?.ImagePath
                            ?? throw new ArgumentException("--image is required with --model");
            var options = new PipelineOptions
            {
                TokenizerFolder = parse.GetValue(tokenizer) ?? defaults?.TokenizerFolder,
                Template = parse.GetValue(conv),
                Load = PlacementCliOptions.LoadOptions(placement.Resolve(parse, modelFolder, Workload.Answering, error)),
            };
            using var pipeline = LlavaPipeline.Load(modelFolder, options);
            AdapterOption.Apply(parse, adapter, pipeline);
            var picture = RgbImage.Load(imagePath);
            var text = parse.GetValue(question)!;
            if (parse.GetValue(showPrompt)) error.WriteLine($"prompt: {pipeline.BuildPrompt(text)}");
            error.WriteLine($"model: {modelFolder}{(defaults is null ? "" : $" ({defaults.Description})")}\n"
                            + $"image: {imagePath}\nquestion: {text}");
            output.Write("answer: ");
            var generation = pipeline.DefaultGenerationOptions(parse.GetValue(maxNewTokens)) with
            {
                Temperature = parse.GetValue(temperature),
            };
            foreach (var piece in pipeline.AskStreaming(picture, text, generation)) output.Write(piece);
            output.WriteLine();
            return 0;
        }));
        return command;
    }
}
