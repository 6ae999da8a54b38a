using LlavaMed.Models;
using NetArchTest.Rules;

namespace LlavaMed.Tests;

/// <summary>The library's namespaces form layers (README, "Layers"): a namespace may use its own layer and the layers
/// below it, never one above, and no two namespaces use each other. Read from the compiled assembly's type references
/// (NetArchTest), so a dependency added anywhere (a field, a signature, a method body) is caught.</summary>
public sealed class LayeringTests
{
    /// <summary>Lowest first. Within a layer a namespace may use another of the same layer (the cycle check below
    /// keeps those one-way).</summary>
    static readonly string[][] Layers =
    [
        ["Workbench"],                                           // files, paths, code version, progress relay
        ["Text", "Images", "Views", "Plotting"],                 // tokenizer and templates, image pipeline, HTML views and charts
        ["Models"],                                              // the model, one file per component
        ["Checkpoints", "Distributed", "Data", "Llm", "Evaluation"], // loading and saving, collectives, data sets, LLM clients, metrics
        ["Training", "Inference"],                               // the stage trainer and its step; generation and the pipeline
        ["Curriculum", "Notebooks"],                             // the curriculum run, presets, ablations, reports; what notebooks show
        ["Benchmarks"],
    ];

    static readonly IReadOnlyList<string> Namespaces = Layers.SelectMany(layer => layer).ToList();

    static int LayerOf(string name) => Array.FindIndex(Layers, layer => layer.Contains(name));

    /// <summary>Namespace pairs (user, used) where some type of <c>LlavaMed.{user}</c> references a type of <c>LlavaMed.{used}</c>.</summary>
    static readonly Lazy<IReadOnlyList<(string User, string Used)>> Dependencies = new(() =>
        Namespaces.SelectMany(user => Namespaces.Where(used => used != user).Select(used => (user, used)))
            .Where(pair => Types.InAssembly(typeof(LlavaForCausalLM).Assembly).That().ResideInNamespace($"LlavaMed.{pair.user}")
                               .And().HaveDependencyOn($"LlavaMed.{pair.used}").GetTypes().Any())
            .ToList());

    [Fact]
    public void EveryNamespaceOfTheLibraryIsInALayer()
    {
        var actual = typeof(LlavaForCausalLM).Assembly.GetTypes().Select(t => t.Namespace).OfType<string>()
            .Where(n => n.StartsWith("LlavaMed.", StringComparison.Ordinal)).Select(n => n.Split('.')[1]).Distinct();
        Assert.Empty(actual.Except(Namespaces));
    }

    [Fact]
    public void NoNamespaceUsesALayerAboveItsOwn()
    {
        var upward = Dependencies.Value.Where(d => LayerOf(d.Used) > LayerOf(d.User)).Select(d => $"{d.User} -> {d.Used}");
        Assert.Empty(upward);
    }

    [Fact]
    public void TheNamespacesHaveNoDependencyCycle()
    {
        var uses = Dependencies.Value.ToLookup(d => d.User, d => d.Used);
        var cycles = new List<string>();
        void Visit(string name, List<string> path)
        {
            if (path.Contains(name))
            {
                cycles.Add(string.Join(" -> ", path.SkipWhile(n => n != name).Append(name)));
                return;
            }
            if (path.Count > Namespaces.Count) return;
            foreach (var used in uses[name]) Visit(used, [.. path, name]);
        }
        foreach (var name in Namespaces) Visit(name, []);
        Assert.Empty(cycles.Distinct());
    }

    [Fact]
    public void TheCheckCanFail()
    {
        // Inference really uses Models (the pipeline holds the model): the dependency scan sees method bodies and signatures.
        Assert.Contains(("Inference", "Models"), Dependencies.Value);
        Assert.Contains(("Curriculum", "Training"), Dependencies.Value);
    }
}
