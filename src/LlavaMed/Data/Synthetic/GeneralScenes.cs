using LlavaMed.Text;
using SkiaSharp;

namespace LlavaMed.Data.Synthetic;

/// <summary>One shape of a general-domain scene, in a cell of a 3x3 grid.</summary>
public sealed record SceneObject(string Shape, string Colour, string Size, string Row, string Column)
{
    /// <summary>"top left", "top", "center", "right", ...: the cell's name in words.</summary>
    public string Position => (Row, Column) switch
    {
        ("middle", "center") => "center",
        ("middle", _) => Column,
        (_, "center") => Row,
        _ => $"{Row} {Column}",
    };
}

/// <summary>The truth of one everyday synthetic scene of the general-domain companion set (LLaVA-Med starts from a
/// general LLaVA; this set builds the tiny stand-in for it).</summary>
public sealed record SceneRecord(string Id, string Image, string Background, IReadOnlyList<SceneObject> Objects);

/// <summary>Samples, draws and describes general scenes: 1-4 coloured shapes on a plain background.</summary>
static class GeneralScenes
{
    static readonly string[] Shapes = ["circle", "square", "triangle", "diamond"];
    static readonly Dictionary<string, SKColor> Colours = new()
    {
        ["red"] = new(215, 40, 40), ["green"] = new(40, 160, 60), ["blue"] = new(40, 80, 210),
        ["yellow"] = new(235, 205, 40), ["purple"] = new(140, 60, 170), ["orange"] = new(240, 130, 30),
    };
    static readonly Dictionary<string, SKColor> Backgrounds = new()
    {
        ["white"] = new(246, 246, 244), ["gray"] = new(190, 190, 190), ["beige"] = new(230, 218, 190), ["black"] = new(25, 25, 28),
    };
    static readonly string[] Rows = ["top", "middle", "bottom"], Columns = ["left", "center", "right"];

    public static SceneRecord Sample(Random random, int index)
    {
        var count = random.Next(1, 5);
        var cells = Enumerable.Range(0, 9).OrderBy(_ => random.Next()).Take(count).Order().ToList();
        var colourNames = Colours.Keys.ToList();
        var objects = cells.Select(cell => new SceneObject(random.Pick(Shapes), random.Pick(colourNames),
            random.Chance(0.5) ? "small" : "large", Rows[cell / 3], Columns[cell % 3])).ToList();
        var id = $"scene_{index:D6}";
        return new SceneRecord(id, id + ".png", random.Pick(Backgrounds.Keys.ToList()), objects);
    }

    public static byte[] Render(SceneRecord scene, int size, Random random)
    {
        using var sketch = new SkiaSketch(size);
        sketch.Clear(SkiaSketch.Shade(Backgrounds[scene.Background], random.Next(-8, 9)));
        foreach (var shape in scene.Objects)
        {
            var cx = (Array.IndexOf(Columns, shape.Column) + 0.5f) / 3 + random.Uniform(-0.03, 0.03);
            var cy = (Array.IndexOf(Rows, shape.Row) + 0.5f) / 3 + random.Uniform(-0.03, 0.03);
            var r = shape.Size == "large" ? random.Uniform(0.13, 0.15) : random.Uniform(0.065, 0.08);
            var colour = SkiaSketch.Shade(Colours[shape.Colour], random.Next(-15, 16));
            switch (shape.Shape)
            {
                case "circle": sketch.Circle(cx, cy, r, colour); break;
                case "square": sketch.Rect(cx - r * 0.85f, cy - r * 0.85f, cx + r * 0.85f, cy + r * 0.85f, colour); break;
                case "triangle":
                    using (var triangle = SkiaSketch.Polygon((cx, cy - r), (cx + r * 0.95f, cy + r * 0.75f), (cx - r * 0.95f, cy + r * 0.75f)))
                        sketch.Path(triangle, colour);
                    break;
                default:
                    using (var diamond = SkiaSketch.Polygon((cx, cy - r), (cx + r * 0.75f, cy), (cx, cy + r), (cx - r * 0.75f, cy)))
                        sketch.Path(diamond, colour);
                    break;
            }
        }
        return sketch.EncodePng(random, 4, grey: false);
    }

    static string Describe(SceneObject o) => $"a {o.Size} {o.Colour} {o.Shape} {(o.Position == "center" ? "in the center" : $"at the {o.Position}")}";

    public static string Caption(SceneRecord scene, Random random)
    {
        var parts = scene.Objects.Select(Describe).ToList();
        var list = parts.Count == 1 ? parts[0] : string.Join(", ", parts[..^1]) + " and " + parts[^1];
        var shapes = scene.Objects.Count == 1 ? "one shape" : $"{scene.Objects.Count} shapes";
        return random.Next(3) switch
        {
            0 => $"{Capitalise(list)}, on a {scene.Background} background.",
            1 => $"A {scene.Background} background with {shapes}: {list}.",
            _ => $"The picture shows {list} against a {scene.Background} background.",
        };
    }

    static string Capitalise(string text) => char.ToUpperInvariant(text[0]) + text[1..];

    /// <summary>A multi-turn conversation about the scene (LLaVA instruction layout); the yes/no turn's answer is
    /// chosen by a fair coin before its question.</summary>
    public static IReadOnlyList<ConversationTurn> Conversation(SceneRecord scene, Random random)
    {
        var pairs = new List<(string Q, string A)>();
        var n = scene.Objects.Count;
        pairs.Add((random.Pick(["How many shapes are there?", "How many objects are in the image?"]),
                   n == 1 ? "There is 1 shape." : $"There are {n} shapes."));
        var target = random.Pick(scene.Objects);
        pairs.Add(($"What color is the {target.Shape} at the {target.Position}?".Replace("at the center", "in the center"),
                   $"It is {target.Colour}."));
        pairs.Add(($"Where is the {target.Colour} {target.Shape}?", target.Position == "center" ? "It is in the center." : $"It is at the {target.Position}."));
        if (random.Chance(0.5))
            pairs.Add(($"Is there a {target.Colour} {target.Shape}?", $"Yes, there is {Describe(target)}."));
        else
        {
            var colours = Colours.Keys.ToList();
            string shape, colour;
            do { shape = random.Pick(Shapes); colour = random.Pick(colours); }
            while (scene.Objects.Any(o => o.Shape == shape && o.Colour == colour));
            pairs.Add(($"Is there a {colour} {shape}?", $"No, there is no {colour} {shape}."));
        }
        pairs.Add(("Describe the image.", Caption(scene, random)));
        var chosen = pairs.OrderBy(_ => random.Next()).Take(3).ToList();
        var turns = new List<ConversationTurn>();
        for (var i = 0; i < chosen.Count; i++)
        {
            var question = i > 0 ? chosen[i].Q
                : random.Chance(0.5) ? $"{LlavaTokenizer.ImagePlaceholder}\n{chosen[i].Q}" : $"{chosen[i].Q}\n{LlavaTokenizer.ImagePlaceholder}";
            turns.Add(ConversationTurn.Human(question));
            turns.Add(ConversationTurn.Gpt(chosen[i].A));
        }
        return turns;
    }
}
