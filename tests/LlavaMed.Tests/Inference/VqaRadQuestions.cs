using System.Text.Json.Nodes;

namespace LlavaMed.Tests.Inference;

/// <summary>Small question files in the LLaVA-Med downstream layout, made from the shared VQA-RAD test split.</summary>
static class VqaRadQuestions
{
    public static string ImageRoot => SharedFixtures.Require("datasets", "vqa-rad", "images");

    /// <summary>Writes the first <paramref name="count"/> VQA-RAD test questions as a downstream <c>test.json</c>
    /// (id, image, answer_type, conversations with the image marker in the human turn); returns its path.</summary>
    public static string Write(string folder, int count, Func<JsonObject, JsonObject>? edit = null)
    {
        var testSet = JsonNode.Parse(File.ReadAllText(SharedFixtures.Require("datasets", "vqa-rad", "testset.json")))!.AsArray();
        var records = testSet.Take(count).Select(node => (JsonNode)(edit ?? (r => r))(new JsonObject
        {
            ["id"] = node!["qid"]!.ToJsonString(),
            ["image"] = (string)node["image_name"]!,
            ["answer_type"] = (string)node["answer_type"]!,
            ["conversations"] = new JsonArray(
                new JsonObject { ["from"] = "human", ["value"] = "<image>\n" + (string)node["question"]! },
                new JsonObject { ["from"] = "gpt", ["value"] = node["answer"]!.ToString() }),
        })).ToArray();
        var path = Path.Combine(folder, "test.json");
        File.WriteAllText(path, new JsonArray(records).ToJsonString());
        return path;
    }
}
