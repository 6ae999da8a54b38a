using System.CommandLine;
using LlavaMed.Data;
using LlavaMed.Inference;
using LlavaMed.Models;

namespace LlavaMed.Cli;

/// <summary><c>llava-med predict</c>: answers a LLaVA-Med downstream question file into LLaVA's answer-file JSONL,
/// resuming an interrupted run. Progress goes to the error writer, the throughput summary to the output writer.</summary>
public static class PredictCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "checkpoint folder", Required = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer folder (default: the model folder)" };
        var questions = new Option<string>("--questions")
        {
            Description = "question file in the LLaVA-Med downstream layout (JSON array of id, image, answer_type, conversations)",
            Required = true,
        };
        var imageRoot = new Option<string>("--image-root") { Description = "folder the questions' image paths are relative to", Required = true };
        var answers = new Option<string>("--out")
        {
            Description = "answer file (JSONL: question_id, prompt, text, answer_id, model_id, metadata); an existing file is resumed",
            Required = true,
        };
        var batchSize = new Option<int>("--batch-size") { Description = "questions per left-padded batch (same greedy answers as 1)", DefaultValueFactory = _ => 1 };
        var conv = new Option<string?>("--conv")
        {
            Description = "conversation template (default: mistral_instruct for v1.5 models, LLaVA-Med v1.5's setting, "
                          + "not model_vqa.py's vicuna_v1 default; simple for v1.0)",
        };
        var temperature = new Option<double>("--temperature")
        {
            Description = "0 = greedy, LLaVA-Med v1.5's evaluation setting (model_vqa.py's own default is 0.2)",
            DefaultValueFactory = _ => 0.0,
        };
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "most tokens per answer (model_vqa.py: 1024)", DefaultValueFactory = _ => 1024 };
        var modelId = new Option<string?>("--model-id") { Description = "the answers' model_id (default: the model folder's name, as LLaVA writes it)" };
        var adapter = AdapterOption.Create();
        var command = new Command("predict", "Answer a VQA question file (LLaVA-Med model_vqa.py): greedy, mistral_instruct by default")
        {
            adapter, model, tokenizer, questions, imageRoot, answers, batchSize, conv, temperature, maxNewTokens, modelId,
        };
        var placement = new PlacementCliOptions();
        placement.AddTo(command);
        command.SetAction(parse => CliErrors.Run(parse, (output, error) =>
        {
            var modelFolder = parse.GetValue(model)!;
            var answersFile = parse.GetValue(answers)!;
            if (parse.GetValue(batchSize) < 1) throw new ArgumentException("--batch-size must be at least 1");
            // Everything that can fail on the inputs is checked before the model is loaded.
            var plan = BatchPredictor.Plan(LlavaSample.ReadJsonArray(parse.GetValue(questions)!), parse.GetValue(imageRoot)!, answersFile);
            if (plan.Existing.PartialLastLine is not null)
                error.WriteLine($"{answersFile}: its last line is an unfinished write; it is removed and that question answered again");
            if (plan.AnswersNotInQuestions > 0)
                error.WriteLine($"{answersFile}: {plan.AnswersNotInQuestions} answers are for question ids not in the question file (kept)");
            error.WriteLine($"{plan.TotalQuestions} questions: {plan.AlreadyAnswered} already answered, {plan.Pending.Count} to answer");
            if (plan.Pending.Count == 0)
            {
                output.WriteLine($"nothing to do: {answersFile} answers all {plan.TotalQuestions} questions");
                return 0;
            }

            using var pipeline = LlavaPipeline.Load(modelFolder, new PipelineOptions
            {
                TokenizerFolder = parse.GetValue(tokenizer),
                Template = parse.GetValue(conv),
                Load = PlacementCliOptions.LoadOptions(placement.Resolve(parse, modelFolder, Workload.Answering, error)),
            });
            AdapterOption.Apply(parse, adapter, pipeline);
            var options = new PredictionOptions
            {
                BatchSize = parse.GetValue(batchSize),
                ModelId = parse.GetValue(modelId) ?? BatchPredictor.ModelIdFromPath(modelFolder),
                Generation = pipeline.DefaultGenerationOptions(parse.GetValue(maxNewTokens)) with
                {
                    Temperature = parse.GetValue(temperature),
                },
            };
            error.WriteLine($"model: {modelFolder} (template {pipeline.Template.Name}, temperature {options.Generation.Temperature}, "
                            + $"batch size {options.BatchSize})");
            PredictionProgress? last = null;
            foreach (var progress in BatchPredictor.AnsweredBatches(pipeline, plan, options))
            {
                error.Write($"\ranswered {progress.Answered}/{progress.ToAnswer}  {progress.QuestionsPerSecond:F2} questions/s  "
                            + $"{progress.TokensPerSecond:F1} tokens/s");
                last = progress;
            }
            error.WriteLine();
            output.WriteLine($"answered {last!.Answered} questions in {last.Elapsed.TotalSeconds:F1} s: "
                             + $"{last.QuestionsPerSecond:F2} questions/s, {last.TokensPerSecond:F1} generated tokens/s "
                             + $"({last.GeneratedTokens} tokens); answers in {answersFile}");
            return 0;
        }));
        return command;
    }
}
