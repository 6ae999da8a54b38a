using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlavaMed.Plotting;

/// <summary>The JSON form of <see cref="ChartSpec"/> that both sides of the renderer boundary use (compiled into
/// both assemblies); source-generated, so it works where reflection-based serialization is switched off.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ChartSpec))]
internal sealed partial class ChartSpecJson : JsonSerializerContext;
