using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using LlavaMed.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Checkpoints;

public sealed class SafetensorsTests : IDisposable
{
    private readonly string temporary = Directory.CreateTempSubdirectory("llavamed-safetensors-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    private string TempPath(string name) => Path.Combine(temporary, name);

    /// <summary>A file with the given header text (unpadded) and data section, built by hand so that readers are
    /// tested independently of our writer.</summary>
    private string WriteRaw(string name, string header, byte[] data)
    {
        var headerBytes = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + headerBytes.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)headerBytes.Length);
        headerBytes.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + headerBytes.Length);
        var path = TempPath(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] LittleEndian16(params ushort[] values) =>
        values.SelectMany(value => BitConverter.GetBytes(value)).ToArray();

    /// <summary>Same dtype, shape and bytes: bit-exact, so -0, NaN payloads and bf16 bits count.</summary>
    private static void AssertSameTensor(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(expected.bytes.ToArray(), actual.bytes.ToArray());
    }

    private static string HeaderOf(string path)
    {
        var bytes = File.ReadAllBytes(path);
        return Encoding.UTF8.GetString(bytes, 8, (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes));
    }

    // ---- round trips ----

    [Fact]
    public void RoundTripsEveryDtypeScalarsAndEmptyShapes()
    {
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = tensor(new[] { 1.5f, -2.25f, 3e-38f, float.MaxValue, 0f, -0f }).reshape(2, 3),
            ["f16"] = tensor(new[] { 1f, -0.5f, 65504f }).to(ScalarType.Float16),
            ["bf16"] = tensor(new[] { 1f, -3.140625f, 1e30f }).to(ScalarType.BFloat16),
            ["i64"] = tensor(new[] { long.MinValue, -1L, 0L, long.MaxValue }),
            ["i32"] = tensor(new[] { int.MinValue, 7 }),
            ["u8"] = tensor(new byte[] { 0, 255 }),
            ["bool"] = tensor(new[] { true, false, true }),
            ["f64"] = tensor(new[] { Math.PI }),
            ["scalar"] = tensor(42.5f),
            ["empty"] = zeros(0, 3),
        };
        var path = TempPath("all.safetensors");
        SafetensorsFile.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "é\"\n" });

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(tensors.Keys.Order(), file.Names.Order());
        Assert.Equal(new Dictionary<string, string> { ["format"] = "pt", ["note"] = "é\"\n" }, file.Metadata);
        foreach (var (name, expected) in tensors)
        {
            using var actual = file.ReadTensor(name);
            AssertSameTensor(expected, actual);
        }
        Assert.Empty(file.GetInfo("scalar").Shape);
        Assert.Equal(4, file.GetInfo("scalar").ByteLength);
        Assert.Equal(0, file.GetInfo("empty").ByteLength);
    }

    [Fact]
    public void ReadsBFloat16AndFloat16BitExactlyIntoFloat32()
    {
        // Raw bit patterns: normal, negative, smallest subnormal, largest finite, infinity, a non-dyadic-looking value.
        ushort[] bf16Bits = [0x3F80, 0xC049, 0x0001, 0x7F7F, 0x7F80, 0x3EAB];
        ushort[] f16Bits = [0x3C00, 0xC248, 0x0001, 0x7BFF, 0x7C00, 0x3555];
        var path = WriteRaw("half.safetensors",
            "{\"b\":{\"dtype\":\"BF16\",\"shape\":[6],\"data_offsets\":[0,12]},"
            + "\"h\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[12,24]}}",
            [.. LittleEndian16(bf16Bits), .. LittleEndian16(f16Bits)]);

        using var file = SafetensorsFile.Open(path);
        using var bf16AsFloat = file.ReadTensor("b", ScalarType.Float32);
        using var f16AsFloat = file.ReadTensor("h", ScalarType.Float32);
        Assert.Equal(ScalarType.Float32, bf16AsFloat.dtype);
        Assert.Equal(new long[] { 2, 3 }, f16AsFloat.shape);
        Assert.Equal(bf16Bits.Select(bits => BitConverter.Int32BitsToSingle(bits << 16)), bf16AsFloat.data<float>().ToArray());
        Assert.Equal(f16Bits.Select(bits => (float)BitConverter.UInt16BitsToHalf(bits)), f16AsFloat.data<float>().ToArray());
        Assert.Equal([1f, -3.140625f, MathF.Pow(2, -133), 3.3895314e38f, float.PositiveInfinity, 0.333984375f],
            bf16AsFloat.data<float>().ToArray());
        Assert.Equal([1f, -3.140625f, MathF.Pow(2, -24), 65504f, float.PositiveInfinity, 0.33325195f],
            f16AsFloat.data<float>().ToArray());

        // Read as stored, the bits are untouched.
        using var bf16 = file.ReadTensor("b");
        Assert.Equal(ScalarType.BFloat16, bf16.dtype);
        Assert.Equal(LittleEndian16(bf16Bits), bf16.bytes.ToArray());
        // And the writer writes them back unchanged.
        var resaved = TempPath("half-resaved.safetensors");
        using (var h = file.ReadTensor("h"))
            SafetensorsFile.Save(resaved, new Dictionary<string, Tensor> { ["b"] = bf16, ["h"] = h });
        var bytes = File.ReadAllBytes(resaved);
        Assert.Equal([.. LittleEndian16(bf16Bits), .. LittleEndian16(f16Bits)], bytes[^24..]);
    }

    [Fact]
    public void ReadIntoFillsAnExistingTensorDirectlyOrThroughABoundedBuffer()
    {
        var path = TempPath("into.safetensors");
        using var stored = arange(0, 1000, 1, ScalarType.Float32).div_(7.0.ToScalar()).reshape(10, 100);
        SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["x"] = stored });
        using var file = SafetensorsFile.Open(path);
        // A 40-byte buffer holds 10 float32 values: 100 slices for the 1,000 values, each converted on its way.
        using var staging = new StagingBuffers(bufferBytes: 40);
        using var asBf16 = empty(10, 100, ScalarType.BFloat16);
        file.ReadInto("x", asBf16, staging);
        using var expectedBf16 = stored.to(ScalarType.BFloat16);
        AssertSameTensor(expectedBf16, asBf16);
        Assert.Equal(10, staging.For(ScalarType.Float32).shape[0]);
        using var asStored = full(10, 100, float.NaN);
        file.ReadInto("x", asStored, staging);
        AssertSameTensor(stored, asStored);
        using var wrongShape = empty(100, 10);
        var error = Assert.Throws<ArgumentException>(() => file.ReadInto("x", wrongShape, staging));
        Assert.Contains("[10,100]", error.Message);
    }

    [Fact]
    public void ReadsIntoFloat32FromFloat32AndConvertsToBFloat16()
    {
        var path = TempPath("f32.safetensors");
        SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["x"] = tensor(new[] { 1f, 1.00390625f, -2.5f }) });
        using var file = SafetensorsFile.Open(path);
        using var asBf16 = file.ReadTensor("x", ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, asBf16.dtype);
        // 1.00390625 = 1 + 2^-8 is a tie between bf16 neighbours 1 and 1 + 2^-7: round-to-nearest-even gives 1.
        Assert.Equal([1f, 1f, -2.5f], asBf16.to(ScalarType.Float32).data<float>().ToArray());
    }

    [Fact]
    public void NarrowedViewsExposeTheirOwnBytes()
    {
        // Tensors above 1 GiB are read and written through narrowed views; that relies on Tensor.bytes of a view
        // starting at the view's first element, which this pins down.
        using var values = arange(10, dtype: ScalarType.Int32);
        using var view = values.narrow(0, 3, 4);
        Assert.Equal(new[] { 3, 4, 5, 6 }.SelectMany(BitConverter.GetBytes), view.bytes.ToArray());
    }

    // ---- writer layout (byte-level, reasoned from huggingface/safetensors tensor.rs) ----

    [Fact]
    public void WriterMatchesTheReferenceCrateTestVectors()
    {
        // tensor.rs test_serialization: {"attn.0": F32 [1,2,3] = 0..5}, no metadata; header is exactly 64 bytes.
        var path = TempPath("attn.safetensors");
        SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["attn.0"] = arange(6f).reshape(1, 2, 3) });
        byte[] expected =
        [
            64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34,
            58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100,
            97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0,
            0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
        ];
        Assert.Equal(expected, File.ReadAllBytes(path));

        // test_serialization_forced_alignement: "attn0" [1,1,2,3]; the header is padded with 7 spaces to 72 bytes.
        SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["attn0"] = arange(6f).reshape(1, 1, 2, 3) });
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(72UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes));
        Assert.Equal("{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ", HeaderOf(path));

        // test_empty: no tensors, with and without metadata.
        SafetensorsFile.Save(path, new Dictionary<string, Tensor>());
        Assert.Equal([8, 0, 0, 0, 0, 0, 0, 0, .. "{}      "u8.ToArray()], File.ReadAllBytes(path));
        SafetensorsFile.Save(path, new Dictionary<string, Tensor>(), new Dictionary<string, string> { ["framework"] = "pt" });
        Assert.Equal([40, 0, 0, 0, 0, 0, 0, 0, .. "{\"__metadata__\":{\"framework\":\"pt\"}}     "u8.ToArray()],
            File.ReadAllBytes(path));
    }

    [Fact]
    public void WriterOrdersByDescendingDtypeThenName()
    {
        var path = TempPath("mixed.safetensors");
        SafetensorsFile.Save(path, new Dictionary<string, Tensor>
        {
            ["b.f32"] = ones(2),
            ["z.bf16"] = ones(1, dtype: ScalarType.BFloat16),
            ["a.f32"] = ones(1),
            ["pos"] = arange(3L),
            ["mask"] = ones(3, dtype: ScalarType.Bool),
        }, new Dictionary<string, string> { ["format"] = "pt" });
        Assert.Equal(
            "{\"__metadata__\":{\"format\":\"pt\"},"
            + "\"pos\":{\"dtype\":\"I64\",\"shape\":[3],\"data_offsets\":[0,24]},"
            + "\"a.f32\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[24,28]},"
            + "\"b.f32\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[28,36]},"
            + "\"z.bf16\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[36,38]},"
            + "\"mask\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[38,41]}}  ",
            HeaderOf(path));
    }

    [Fact]
    public void SaveIsAtomicAndLeavesNoTemporaryFiles()
    {
        var path = TempPath("atomic.safetensors");
        SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["x"] = ones(2) });
        var original = File.ReadAllBytes(path);

        // A tensor type safetensors cannot hold fails the save; the old file must survive untouched.
        Assert.Throws<ArgumentException>(() => SafetensorsFile.Save(path,
            new Dictionary<string, Tensor> { ["x"] = ones(2), ["c"] = ones(2, dtype: ScalarType.ComplexFloat32) }));
        Assert.Equal(original, File.ReadAllBytes(path));

        SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["y"] = zeros(3) });
        using (var file = SafetensorsFile.Open(path)) Assert.Equal(["y"], file.Names);
        Assert.Equal(["atomic.safetensors"], Directory.EnumerateFiles(temporary).Select(Path.GetFileName));
    }

    // ---- real fixtures ----

    [Fact]
    public void ReadsTheV15TinyFixture()
    {
        using var file = SafetensorsFile.Open(Path.Combine(SharedFixtures.V15Tiny, "model.safetensors"));
        Assert.Equal(64, file.Names.Count);
        Assert.Equal(new Dictionary<string, string> { ["format"] = "pt" }, file.Metadata);
        Assert.Contains("model.layers.1.self_attn.k_proj.weight", file.Names);
        Assert.Contains("model.vision_tower.vision_tower.vision_model.pre_layrnorm.bias", file.Names);
        Assert.Contains("model.vision_tower.vision_tower.vision_model.embeddings.class_embedding", file.Names);
        Assert.All(file.Names, name => Assert.Equal(SafetensorsDtype.F32, file.GetInfo(name).Dtype));
        Assert.Equal([512L, 64L], file.GetInfo("lm_head.weight").Shape);
        Assert.Equal([32L, 64L], file.GetInfo("model.layers.0.self_attn.k_proj.weight").Shape); // 2 kv heads x 16

        using var projector = file.ReadTensor("model.mm_projector.0.weight");
        Assert.Equal(new long[] { 64, 32 }, projector.shape);
        Assert.Equal([-0.11599203944206238f, -0.16085825860500336f, -0.1287888139486313f],
            projector.flatten()[..3].data<float>().ToArray());
    }

    [Fact]
    public void ReadsTheInt64BufferOfTheV10VisionTower()
    {
        using var file = SafetensorsFile.Open(Path.Combine(SharedFixtures.V10Tiny, "vision_tower", "model.safetensors"));
        Assert.Equal(40, file.Names.Count);
        var info = file.GetInfo("vision_model.embeddings.position_ids");
        Assert.Equal(SafetensorsDtype.I64, info.Dtype);
        using var positionIds = file.ReadTensor("vision_model.embeddings.position_ids");
        Assert.Equal(ScalarType.Int64, positionIds.dtype);
        Assert.Equal(Enumerable.Range(0, 17).Select(i => (long)i), positionIds.data<long>().ToArray());
    }

    [Theory]
    [InlineData("llava-med-v1.5-tiny", "model.safetensors")]
    [InlineData("llava-med-v1.0-tiny", "model.safetensors")]
    public void ResavingAFloat32FixtureReproducesItByteForByte(string fixture, string fileName)
    {
        var original = SharedFixtures.Require("fixtures", fixture, fileName);
        var copy = TempPath(fileName);
        Resave(original, copy);
        Assert.Equal(File.ReadAllBytes(original), File.ReadAllBytes(copy));
    }

    [Fact]
    public void ResavingAMixedDtypeFixtureKeepsEveryTensorAndPutsInt64First()
    {
        // The fixtures' writer orders by name only; the reference writer puts wider dtypes first. Both layouts are
        // valid; ours follows the reference, so only the content (not the bytes) must match here.
        var original = Path.Combine(SharedFixtures.V10Tiny, "vision_tower", "model.safetensors");
        var copy = TempPath("vision.safetensors");
        Resave(original, copy);
        using var before = SafetensorsFile.Open(original);
        using var after = SafetensorsFile.Open(copy);
        Assert.Equal("vision_model.embeddings.position_ids", after.Names[0]);
        Assert.Equal(before.Names.Order(), after.Names.Order());
        Assert.Equal(before.Metadata, after.Metadata);
        foreach (var name in before.Names)
        {
            using var expected = before.ReadTensor(name);
            using var actual = after.ReadTensor(name);
            AssertSameTensor(expected, actual);
        }
    }

    private static void Resave(string source, string destination)
    {
        using var file = SafetensorsFile.Open(source);
        var tensors = file.Names.ToDictionary(name => name, name => file.ReadTensor(name));
        SafetensorsFile.Save(destination, tensors, file.Metadata);
        foreach (var tensor in tensors.Values) tensor.Dispose();
    }

    // ---- sharded checkpoints ----

    private static Dictionary<string, Tensor> SampleStateDict() => new()
    {
        ["model.embed_tokens.weight"] = arange(12f).reshape(3, 4), // 48 bytes
        ["model.layers.0.weight"] = arange(8f).reshape(2, 4) + 100, // 32 bytes
        ["model.norm.weight"] = ones(4, dtype: ScalarType.BFloat16), // 8 bytes
        ["lm_head.weight"] = arange(16f).reshape(4, 4) - 50, // 64 bytes: larger than the limit, a shard of its own
    };

    [Fact]
    public void ShardedSaveWritesHuggingFaceNamesAndIndexAndLoadsBack()
    {
        var folder = TempPath("sharded");
        var stateDict = SampleStateDict();
        CheckpointTensors.Save(folder, stateDict, maxShardBytes: 60);

        Assert.Equal(
            ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors",
             "model.safetensors.index.json"],
            Directory.EnumerateFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(
            """
            {
              "metadata": {
                "total_size": 152
              },
              "weight_map": {
                "lm_head.weight": "model-00003-of-00003.safetensors",
                "model.embed_tokens.weight": "model-00001-of-00003.safetensors",
                "model.layers.0.weight": "model-00002-of-00003.safetensors",
                "model.norm.weight": "model-00002-of-00003.safetensors"
              }
            }

            """.ReplaceLineEndings("\n"),
            File.ReadAllText(Path.Combine(folder, "model.safetensors.index.json")));

        using var checkpoint = CheckpointTensors.Open(folder);
        Assert.Equal(stateDict.Keys.Order(StringComparer.Ordinal), checkpoint.Names);
        Assert.EndsWith("model-00002-of-00003.safetensors", checkpoint.PathOf("model.norm.weight"));
        foreach (var (name, expected) in stateDict)
        {
            using var actual = checkpoint.ReadTensor(name);
            AssertSameTensor(expected, actual);
        }
        using var normAsFloat = checkpoint.ReadTensor("model.norm.weight", ScalarType.Float32);
        Assert.Equal([1f, 1f, 1f, 1f], normAsFloat.data<float>().ToArray());
        using (var shard = SafetensorsFile.Open(Path.Combine(folder, "model-00001-of-00003.safetensors")))
            Assert.Equal(new Dictionary<string, string> { ["format"] = "pt" }, shard.Metadata);
    }

    [Fact]
    public void ASingleShardIsModelSafetensorsAndReplacesAnEarlierShardedSave()
    {
        var folder = TempPath("resharded");
        CheckpointTensors.Save(folder, SampleStateDict(), maxShardBytes: 60);
        CheckpointTensors.Save(folder, SampleStateDict());
        Assert.Equal(["model.safetensors"], Directory.EnumerateFiles(folder).Select(Path.GetFileName));
        using var checkpoint = CheckpointTensors.Open(folder);
        Assert.Equal(4, checkpoint.Names.Count);
        Assert.EndsWith("model.safetensors", checkpoint.Source);
    }

    [Fact]
    public void OpensTheFixtureFolderAndASafetensorsFileDirectly()
    {
        using var folder = CheckpointTensors.Open(SharedFixtures.V15Tiny);
        Assert.Equal(64, folder.Names.Count);
        using var direct = CheckpointTensors.Open(Path.Combine(SharedFixtures.V10Tiny, "vision_tower", "model.safetensors"));
        Assert.True(direct.Contains("vision_model.embeddings.position_ids"));
        var missing = Assert.Throws<KeyNotFoundException>(() => folder.ReadTensor("model.no_such.weight"));
        Assert.Contains("model.no_such.weight", missing.Message);
    }

    private string WriteIndex(string folder, object weightMap)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, CheckpointTensors.IndexFileName);
        File.WriteAllText(path, JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = weightMap }));
        return path;
    }

    [Fact]
    public void IndexNamingAMissingShardIsReported()
    {
        var folder = TempPath("missing-shard");
        WriteIndex(folder, new Dictionary<string, string> { ["w"] = "model-00001-of-00002.safetensors" });
        var error = Assert.Throws<CheckpointFormatException>(() => CheckpointTensors.Open(folder));
        Assert.Contains("'w'", error.Message);
        Assert.Contains("model-00001-of-00002.safetensors", error.Message);
        Assert.Contains("does not exist", error.Message);
    }

    [Fact]
    public void IndexEntryAbsentFromItsShardIsReported()
    {
        var folder = TempPath("absent-entry");
        Directory.CreateDirectory(folder);
        SafetensorsFile.Save(Path.Combine(folder, "model-00001-of-00001.safetensors"),
            new Dictionary<string, Tensor> { ["present"] = ones(1) });
        WriteIndex(folder, new Dictionary<string, string>
        {
            ["present"] = "model-00001-of-00001.safetensors",
            ["ghost.weight"] = "model-00001-of-00001.safetensors",
        });
        var error = Assert.Throws<CheckpointFormatException>(() => CheckpointTensors.Open(folder));
        Assert.Contains("'ghost.weight'", error.Message);
        Assert.Contains("no such tensor", error.Message);
    }

    [Theory]
    [InlineData("{\"weight_map\": ", "not valid JSON")]
    [InlineData("{\"metadata\": {}}", "no \"weight_map\"")]
    [InlineData("{\"weight_map\": {\"w\": \"../model.safetensors\"}}", "not a shard file name")]
    [InlineData("{\"weight_map\": {\"w\": 3}}", "not a shard file name")]
    public void MalformedIndexIsReported(string indexJson, string problem)
    {
        var folder = TempPath("bad-index");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, CheckpointTensors.IndexFileName);
        File.WriteAllText(path, indexJson);
        var error = Assert.Throws<CheckpointFormatException>(() => CheckpointTensors.Open(folder));
        Assert.Equal(path, error.FilePath);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void FolderWithoutWeightsIsReported()
    {
        var error = Assert.Throws<FileNotFoundException>(() => CheckpointTensors.Open(temporary));
        Assert.Contains("model.safetensors", error.Message);
    }

    // ---- malformed files ----

    private void AssertInvalid(string path, params string[] problemFragments)
    {
        var error = Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Equal(path, error.FilePath);
        Assert.Contains(path, error.Message);
        foreach (var fragment in problemFragments) Assert.Contains(fragment, error.Message);
    }

    private const string TwoFloats = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

    [Fact]
    public void EmptyFileIsInvalid()
    {
        var path = TempPath("empty.safetensors");
        File.WriteAllBytes(path, []);
        AssertInvalid(path, "0 bytes", "too short");
    }

    [Fact]
    public void FileShorterThanTheLengthPrefixIsInvalid()
    {
        var path = TempPath("short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3, 4]);
        AssertInvalid(path, "4 bytes", "too short");
    }

    [Fact]
    public void HeaderLengthBeyondTheFileIsInvalid()
    {
        var path = TempPath("long-header.safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes(1000UL), .. "{}"u8.ToArray()]);
        AssertInvalid(path, "header length 1000", "larger than the rest of the file");
    }

    [Fact]
    public void HugeHeaderLengthIsInvalid()
    {
        var path = TempPath("huge-header.safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes(ulong.MaxValue), .. "{}"u8.ToArray()]);
        AssertInvalid(path, "exceeds the 100000000-byte limit");
    }

    [Fact]
    public void HeaderThatIsNotJsonIsInvalid() =>
        AssertInvalid(WriteRaw("not-json.safetensors", "{not json", []), "not valid JSON");

    [Fact]
    public void HeaderThatIsNotAnObjectIsInvalid() =>
        AssertInvalid(WriteRaw("array.safetensors", "[1, 2]", []), "not an object");

    [Fact]
    public void HeaderThatIsNotUtf8IsInvalid()
    {
        var path = TempPath("latin1.safetensors");
        File.WriteAllBytes(path, [2, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFE]);
        AssertInvalid(path, "not valid UTF-8");
    }

    [Fact]
    public void UnknownDtypeIsInvalid() =>
        AssertInvalid(WriteRaw("dtype.safetensors", TwoFloats.Replace("F32", "Q7"), new byte[8]),
            "tensor 'a'", "unknown dtype \"Q7\"");

    [Fact]
    public void ShapeInconsistentWithOffsetsIsInvalid() =>
        AssertInvalid(WriteRaw("shape.safetensors", TwoFloats.Replace("[2]", "[3]"), new byte[8]),
            "tensor 'a'", "[3]", "12 bytes", "span 8 bytes", "inconsistent");

    [Fact]
    public void OffsetsEndingBeforeTheyBeginAreInvalid() =>
        AssertInvalid(WriteRaw("reversed.safetensors", TwoFloats.Replace("[0,8]", "[8,0]"), new byte[8]),
            "tensor 'a'", "end before they begin");

    [Fact]
    public void OffsetsBeyondTheDataAreInvalid() =>
        AssertInvalid(WriteRaw("truncated.safetensors", TwoFloats, new byte[4]),
            "tensor 'a'", "out of range", "4 bytes", "truncated");

    [Fact]
    public void OverlappingTensorsAreInvalid() =>
        AssertInvalid(WriteRaw("overlap.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]),
            "tensor 'b'", "overlap tensor 'a'");

    [Fact]
    public void HoleBetweenTensorsIsInvalid() =>
        AssertInvalid(WriteRaw("hole.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", new byte[12]),
            "tensor 'b'", "hole of 4 bytes after tensor 'a'", "contiguous");

    [Fact]
    public void DataBeforeTheFirstTensorIsInvalid() =>
        AssertInvalid(WriteRaw("leading.safetensors", TwoFloats.Replace("[0,8]", "[4,12]"), new byte[12]),
            "tensor 'a'", "hole of 4 bytes after the start of the data section");

    [Fact]
    public void TrailingBytesAfterTheLastTensorAreInvalid() =>
        AssertInvalid(WriteRaw("trailing.safetensors", TwoFloats, new byte[10]), "2 trailing bytes");

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", "no 'data_offsets'")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", "not a non-negative integer")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,9]}}", "not 2")]
    [InlineData("{\"a\":[1]}", "not an object")]
    [InlineData("{\"__metadata__\":{\"format\":1}}", "not a string")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", "overflows")]
    public void MalformedTensorEntriesAreInvalid(string header, string problem) =>
        AssertInvalid(WriteRaw("entry.safetensors", header, new byte[8]), problem);

    [Fact]
    public void UnreadableDtypeIsListedButNotRead()
    {
        using var file = SafetensorsFile.Open(WriteRaw("u16.safetensors",
            "{\"u\":{\"dtype\":\"U16\",\"shape\":[2],\"data_offsets\":[0,4]}}", new byte[4]));
        Assert.Equal(SafetensorsDtype.U16, file.GetInfo("u").Dtype);
        Assert.Throws<NotSupportedException>(() => file.ReadTensor("u"));
    }
}
