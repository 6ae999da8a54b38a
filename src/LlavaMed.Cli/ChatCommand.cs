using System.CommandLine;
using LlavaMed.Checkpoints;
using LlavaMed.Images;
using LlavaMed.Inference;
using LlavaMed.Models;
using LlavaMed.Workbench;

namespace LlavaMed.Cli;

/// <summary><c>llava-med chat</c>: a terminal conversation with the model about an image. Reads lines from
/// <c>input</c> (standard input unless a test passes a reader) and writes to the invocation's writers.</summary>
public static class ChatCommand
{
    const string Help = "commands: /reset (new conversation), /image PATH (new image, new conversation), "
                        + "/prompt (the last prompt exactly as the model saw it), /quit (or end of input)";

    public static Command Create(TextReader? input = null)
    {
        var model = new Option<string?>("--model") { Description = "checkpoint folder (default: the fixture or built-in demo checkpoint)" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer folder (default: the model folder)" };
        var image = new Option<string?>("--image") { Description = "image file (JPEG or PNG) the conversation is about" };
        var conv = new Option<string?>("--conv") { Description = "conversation template (default: mistral_instruct for v1.5, simple for v1.0)" };
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "most tokens per answer", DefaultValueFactory = _ => 512 };
        var temperature = new Option<double>("--temperature") { Description = "0 = greedy (LLaVA-Med v1.5's setting)", DefaultValueFactory = _ => 0.0 };
        var adapter = AdapterOption.Create();
        var command = new Command("chat", "Talk with the model about an image. " + Help)
        {
            adapter, model, tokenizer, image, conv, maxNewTokens, temperature,
        };
        var placement = new PlacementCliOptions();
        placement.AddTo(command);
        command.SetAction(parse => CliErrors.Run(parse, (output, error) =>
        {
            var defaults = parse.GetValue(model) is null ? DefaultAssets.Resolve(error.WriteLine) : null;
            var modelFolder = parse.GetValue(model) ?? defaults!.ModelFolder;
            var imagePath = parse.GetValue(image) ?? defaults?.ImagePath
                            ?? throw new ArgumentException("--image is required with --model");
            var picture = RgbImage.Load(imagePath);
            using var pipeline = LlavaPipeline.Load(modelFolder, new PipelineOptions
            {
                TokenizerFolder = parse.GetValue(tokenizer) ?? defaults?.TokenizerFolder,
                Template = parse.GetValue(conv),
                Load = PlacementCliOptions.LoadOptions(placement.Resolve(parse, modelFolder, Workload.Answering, error)),
            });
            AdapterOption.Apply(parse, adapter, pipeline);
            var session = new ChatSession(pipeline, picture, pipeline.DefaultGenerationOptions(parse.GetValue(maxNewTokens)) with
            {
                Temperature = parse.GetValue(temperature),
            });
            error.WriteLine($"model: {modelFolder}{(defaults is null ? "" : $" ({defaults.Description})")}, template {pipeline.Template.Name}");
            output.WriteLine($"image: {imagePath} ({picture.Width}x{picture.Height})\n{Help}");
            Converse(session, input ?? Console.In, output);
            return 0;
        }));
        return command;
    }

    static void Converse(ChatSession session, TextReader input, TextWriter output)
    {
        while (true)
        {
            output.Write("user> ");
            var line = input.ReadLine()?.Trim();
            if (line is null or "/quit")
            {
                output.WriteLine();
                return;
            }
            if (line.Length == 0) continue;
            var (name, argument) = line.StartsWith('/') ? SplitCommand(line) : (null, line);
            switch (name)
            {
                case null:
                    output.Write("assistant> ");
                    try
                    {
                        foreach (var piece in session.AskStreaming(argument)) output.Write(piece);
                        output.WriteLine();
                    }
                    catch (ArgumentException e)   // e.g. the conversation outgrew the context: say so and go on
                    {
                        output.WriteLine($"\nerror: {e.Message}; /reset starts a new conversation");
                    }
                    break;
                case "/reset":
                    session.Reset();
                    output.WriteLine("new conversation about the same image");
                    break;
                case "/image" when argument.Length == 0:
                    output.WriteLine("usage: /image PATH");
                    break;
                case "/image":
                    try
                    {
                        var picture = RgbImage.Load(argument);
                        session.Reset(picture);
                        output.WriteLine($"image: {argument} ({picture.Width}x{picture.Height}); new conversation");
                    }
                    catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException
                                                  or NotSupportedException or UnauthorizedAccessException)
                    {
                        output.WriteLine($"error: cannot load {argument} ({e.Message}); the conversation goes on");
                    }
                    break;
                case "/prompt":
                    output.WriteLine(session.Prompt ?? "(no prompt yet: ask a question first)");
                    break;
                default:
                    output.WriteLine($"unknown command {name}; {Help}");
                    break;
            }
        }
    }

    static (string Name, string Argument) SplitCommand(string line)
    {
        var space = line.IndexOf(' ');
        return space < 0 ? (line, "") : (line[..space], line[(space + 1)..].Trim());
    }
}
