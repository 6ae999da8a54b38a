using System.CommandLine;
using LlavaMed.Inference;
using LlavaMed.Models;

namespace LlavaMed.Cli;

/// <summary><c>llava-med inspect forward</c>: runs the model on stored inputs and writes its intermediate
/// tensors, so another implementation can be compared on the same inputs.</summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "checkpoint folder", Required = true };
        var inputs = new Option<string>("--inputs") { Description = "safetensors with input_ids [B,T] int64 and optional pixel_values [N,3,H,W]", Required = true };
        var output = new Option<string>("--output") { Description = "safetensors file to write", Required = true };
        var greedy = new Option<int>("--greedy") { Description = "also decode N greedy tokens (greedy_tokens)", DefaultValueFactory = _ => 0 };
        var forward = new Command("forward", "Write vision_selected_features, projected_image_features, inputs_embeds, logits (and greedy_tokens)")
        {
            model, inputs, output, greedy,
        };
        var placement = new PlacementCliOptions();
        placement.AddTo(forward);
        forward.SetAction(parse => CliErrors.Run(parse, (stdout, stderr) =>
        {
            var decision = placement.Resolve(parse, parse.GetValue(model)!, Workload.Training, stderr);
            var written = InspectForward.Run(parse.GetValue(model)!, parse.GetValue(inputs)!, parse.GetValue(output)!, parse.GetValue(greedy),
                PlacementCliOptions.LoadOptions(decision));
            stdout.WriteLine($"wrote {string.Join(", ", written)} to {parse.GetValue(output)}");
            return 0;
        }));
        return new Command("inspect", "Look inside the model") { forward };
    }
}
