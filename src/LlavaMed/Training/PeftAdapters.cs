using System.Text.Json.Nodes;
using LlavaMed.Checkpoints;
using LlavaMed.Models;
using LlavaMed.Workbench;
using static TorchSharp.torch;

namespace LlavaMed.Training;

/// <summary>LoRA adapters alone, in the layout PEFT's <c>save_pretrained</c> writes and LLaVA's LoRA checkpoints use:
/// <c>adapter_config.json</c> (<c>peft_type</c> LORA, <c>r</c>, <c>lora_alpha</c>, <c>target_modules</c>, ...) and
/// <c>adapter_model.safetensors</c> with <c>base_model.model.{module}.lora_A.weight</c> [r, in] and <c>.lora_B.weight</c>
/// [out, r] (PEFT's wrapper prefixes, adapter name stripped). What the run trained fully besides the adapters (the
/// projector) goes, as in LLaVA's recipe, to <c>non_lora_trainables</c> under the same prefix; LLaVA writes it as a
/// torch pickle (<c>.bin</c>), this workbench as <c>non_lora_trainables.safetensors</c> (same names).</summary>
public static class PeftAdapters
{
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";
    public const string NonLoraFile = "non_lora_trainables.safetensors";
    const string Prefix = "base_model.model.";
    const string ASuffix = ".lora_A.weight", BSuffix = ".lora_B.weight";

    /// <summary>Writes the adapters, their settings and the fully trained parameters named
    /// <paramref name="fullyTrained"/> to <paramref name="folder"/>.</summary>
    public static void Save(string folder, LoraAdapters lora, LoraOptions options, LlavaForCausalLM model,
                            IEnumerable<string> fullyTrained, string baseModel)
    {
        Directory.CreateDirectory(folder);
        SafetensorsFile.Save(Path.Combine(folder, WeightsFile), lora.StateDict());
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        var nonLora = fullyTrained.ToDictionary(name => Prefix + name, name => parameters[name]);
        if (nonLora.Count > 0) SafetensorsFile.Save(Path.Combine(folder, NonLoraFile), nonLora);
        var config = new JsonObject
        {
            ["peft_type"] = "LORA", ["task_type"] = "CAUSAL_LM", ["base_model_name_or_path"] = baseModel,
            ["r"] = options.Rank, ["lora_alpha"] = options.Alpha, ["lora_dropout"] = options.Dropout,
            ["target_modules"] = new JsonArray(options.Targets.Select(t => (JsonNode)t).ToArray()),
            ["bias"] = "none", ["fan_in_fan_out"] = false, ["use_rslora"] = false, ["use_dora"] = false,
            ["modules_to_save"] = null, ["inference_mode"] = true,
        };
        AtomicFile.WriteText(Path.Combine(folder, ConfigFile), config.ToJsonString(new() { WriteIndented = true }));
    }

    /// <summary>Attaches the adapters in <paramref name="folder"/> to <paramref name="model"/> as hooks (dispose to
    /// detach, <see cref="LoraAdapters.Merge"/> to fold them in) and loads the fully trained parameters saved beside
    /// them. Strict: an unknown module, a tensor without its pair, a setting this workbench does not implement, or a
    /// non-LoRA tensor the model lacks is an error that names it.</summary>
    public static LoraAdapters Attach(LlavaForCausalLM model, string folder)
    {
        var configPath = Path.Combine(folder, ConfigFile);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"no {ConfigFile} in {folder} (a PEFT LoRA adapter folder)");
        var config = JsonNode.Parse(File.ReadAllText(configPath))?.AsObject()
                     ?? throw new InvalidDataException($"{configPath}: not a JSON object");
        string Text(string key) => config[key]?.GetValue<string>() ?? "";
        if (Text("peft_type") != "LORA") throw new InvalidDataException($"{configPath}: peft_type is '{Text("peft_type")}', only LORA is supported");
        foreach (var flag in new[] { "fan_in_fan_out", "use_dora" })
            if (config[flag]?.GetValue<bool>() == true) throw new InvalidDataException($"{configPath}: {flag} is not supported");
        foreach (var pattern in new[] { "rank_pattern", "alpha_pattern" })
            if (config[pattern] is JsonObject { Count: > 0 }) throw new InvalidDataException($"{configPath}: {pattern} is not supported");
        if (config["r"] is null) throw new InvalidDataException($"{configPath}: r is missing");
        int rank = config["r"]!.GetValue<int>();
        double alpha = config["lora_alpha"]?.GetValue<double>() ?? 8; // PEFT's default
        double scale = config["use_rslora"]?.GetValue<bool>() == true ? alpha / Math.Sqrt(rank) : alpha / rank;

        using var scope = NewDisposeScope();
        using var file = SafetensorsFile.Open(Path.Combine(folder, WeightsFile));
        var modules = new Dictionary<string, (Tensor A, Tensor B)>();
        foreach (var name in file.Names)
        {
            bool isA = name.EndsWith(ASuffix, StringComparison.Ordinal);
            if (!name.StartsWith(Prefix, StringComparison.Ordinal) || !(isA || name.EndsWith(BSuffix, StringComparison.Ordinal)))
                throw new InvalidDataException($"{file.Path}: {name} is not a LoRA tensor (base_model.model.<module>.lora_A/lora_B.weight)");
            var module = name[Prefix.Length..^ASuffix.Length];
            var pair = isA ? module + BSuffix : module + ASuffix;
            if (!file.Contains(Prefix + pair)) throw new InvalidDataException($"{file.Path}: {name} has no {Prefix + pair}");
            if (isA) modules[module] = (file.ReadTensor(name), file.ReadTensor(Prefix + module + BSuffix));
        }
        foreach (var (module, (a, _)) in modules)
            if (a.shape[0] != rank) throw new InvalidDataException($"{file.Path}: {module} has rank {a.shape[0]}, the config r {rank}");
        var lora = LoraAdapters.FromWeights(model, modules, scale);
        try
        {
            LoadNonLora(model, Path.Combine(folder, NonLoraFile));
            return lora;
        }
        catch
        {
            lora.Dispose();
            throw;
        }
    }

    /// <summary>Attaches the adapters in <paramref name="folder"/> and merges them into the weights: the model then
    /// computes what base + adapters compute, at the base's speed.</summary>
    public static void Merge(LlavaForCausalLM model, string folder)
    {
        using var lora = Attach(model, folder);
        lora.Merge();
    }

    static void LoadNonLora(LlavaForCausalLM model, string path)
    {
        if (!File.Exists(path))
        {
            if (File.Exists(Path.ChangeExtension(path, ".bin")))
                throw new InvalidDataException($"{Path.ChangeExtension(path, ".bin")} is a torch pickle; save it as {Path.GetFileName(path)} (same names) to load it here");
            return;
        }
        using var file = SafetensorsFile.Open(path);
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using var noGrad = no_grad();
        foreach (var name in file.Names)
        {
            var key = name.StartsWith(Prefix, StringComparison.Ordinal) ? name[Prefix.Length..] : name;
            if (!parameters.TryGetValue(key, out var parameter)) throw new InvalidDataException($"{path}: the model has no parameter {key}");
            var value = file.ReadTensor(name);
            if (!value.shape.SequenceEqual(parameter.shape))
                throw new InvalidDataException($"{path}: {name} has shape [{string.Join(", ", value.shape)}], the model [{string.Join(", ", parameter.shape)}]");
            parameter.copy_(value);
        }
    }
}
