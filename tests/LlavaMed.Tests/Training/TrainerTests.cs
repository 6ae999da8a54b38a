using System.Diagnostics;
using System.Text.Json.Nodes;
using LlavaMed.Checkpoints;
using LlavaMed.Data;
using LlavaMed.Tests.Cli;
using LlavaMed.Text;
using LlavaMed.Training;
using LlavaMed.Workbench;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Training;

public sealed class TrainerTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-train-").FullName;
    readonly DemoCheckpoint demo;
    readonly string dataPath;

    public TrainerTests()
    {
        demo = DemoCheckpoint.EnsureCreated(Path.Combine(temporary, "demo"));
        dataPath = Path.Combine(temporary, "train.json");
        string[] findings = ["a small nodule", "a pleural effusion", "no acute abnormality", "a well-defined mass"];
        var samples = Enumerable.Range(0, 12).Select(i => new LlavaSample($"s{i}", i % 3 == 2 ? null : Path.GetFileName(demo.ImagePath),
            [ConversationTurn.Human(i % 3 == 2 ? "Describe the findings." : "<image>\nWhat is shown in this image?"),
             ConversationTurn.Gpt($"Chest X-ray shows {findings[i % findings.Length]} in the right upper lobe.")]).ToJson());
        File.WriteAllText(dataPath, new JsonArray(samples.ToArray()).ToJsonString());
    }

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    TrainingStage Stage(string output, TrainableSet trainable = TrainableSet.ProjectorAndLanguageModel) => new()
    {
        Name = "instruction", DataPath = dataPath, ImageRoot = demo.ModelFolder, InitFrom = demo.ModelFolder,
        OutputDir = Path.Combine(temporary, output), Trainable = trainable, Epochs = 2, LearningRate = 1e-3,
        BatchSize = 2, GradientAccumulation = 2, SaveEverySteps = 2, MaxLength = 128, Seed = 5,
    };

    static Dictionary<string, Tensor> Weights(string folder)
    {
        using var tensors = CheckpointTensors.Open(folder);
        return tensors.Names.ToDictionary(n => n, n => tensors.ReadTensor(n));
    }

    /// <summary>Runs <paramref name="stage"/> until its first checkpoint is written (stopping there, like a crash after
    /// it), then resumes it to the end.</summary>
    static void InterruptAfterFirstCheckpointAndResume(TrainingStage stage)
    {
        using var stop = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => new StageTrainer().Run(stage, new InlineProgress<TrainingProgress>(progress =>
        {
            if (progress.Event?.StartsWith("checkpoint") == true) stop.Cancel();
        }), cancellation: stop.Token));
        Assert.NotNull(StageTrainer.LatestCheckpoint(stage.OutputDir));
        Assert.False(File.Exists(Path.Combine(stage.OutputDir, "model.safetensors")));
        foreach (var _ in new StageTrainer().Run(stage, resume: true)) { }
    }

    static void AssertSameModelBytes(string expectedFolder, string actualFolder) =>
        Assert.Equal(File.ReadAllBytes(Path.Combine(expectedFolder, "model.safetensors")),
                     File.ReadAllBytes(Path.Combine(actualFolder, "model.safetensors")));

    static string CliAssembly => Path.Combine(AppContext.BaseDirectory, "llava-med.dll");

    [Fact]
    public void AModelInMemoryTrainsLikeTheSameModelLoadedFromItsFolder()
    {
        using var scope = NewDisposeScope();
        var fromFolder = Stage("from-folder") with { SaveEverySteps = 0 };
        var inMemory = Stage("in-memory") with { SaveEverySteps = 0 };
        var folderLosses = new StageTrainer().Run(fromFolder).Where(p => p.IsTrainingStep).Select(p => p.Loss).ToList();
        using var start = ModelWithProcessors.Load(demo.ModelFolder);
        var memoryLosses = new StageTrainer().Run(inMemory, start).Where(p => p.IsTrainingStep).Select(p => p.Loss).ToList();

        Assert.Equal(6, folderLosses.Count);
        Assert.Equal(folderLosses, memoryLosses);
        AssertSameModelBytes(fromFolder.OutputDir, inMemory.OutputDir);
        var written = JsonNode.Parse(File.ReadAllText(Path.Combine(inMemory.OutputDir, TrainingStage.ArgumentsFile)))!;
        Assert.Equal(inMemory.ToJson().ToJsonString(), written.ToJsonString());
        Assert.Equal(1e-3, written["learning_rate"]!.GetValue<double>());
        Assert.Equal(2, written["gradient_accumulation_steps"]!.GetValue<int>());
    }

    [Fact]
    public void LossFallsAndAlignmentTrainsOnlyTheProjector()
    {
        using var scope = NewDisposeScope();
        var stage = Stage("alignment", TrainableSet.Projector) with { Name = "alignment", Epochs = 4, SaveEverySteps = 0 };
        var losses = new StageTrainer().Run(stage).Where(p => !double.IsNaN(p.Loss)).Select(p => p.Loss).ToList();
        TestContext.Current.TestOutputHelper?.WriteLine($"losses: {string.Join(", ", losses.Select(l => l.ToString("F3")))}");
        Assert.Equal(12, losses.Count); // 12 samples / batch 2 = 6 micro-batches -> 3 steps per epoch, 4 epochs
        Assert.True(losses[^1] < losses[0], "the loss should fall");
        var before = Weights(demo.ModelFolder);
        var after = Weights(stage.OutputDir);
        foreach (var (name, value) in before)
        {
            bool changed = !value.equal(after[name]).all().item<bool>();
            Assert.True(changed == name.StartsWith("model.mm_projector"), $"{name} changed={changed}");
        }
        var log = File.ReadAllLines(Path.Combine(stage.OutputDir, StageTrainer.LogFile)).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(losses.Count, log.Count);
        foreach (var line in log)
            foreach (var key in new[] { "step_seconds", "data_wait_seconds", "positions", "flop_estimate" })
                Assert.True(line[key]!.GetValue<double>() >= 0, $"{key} in {line}");
        Assert.Equal("alignment", JsonNode.Parse(File.ReadAllText(Path.Combine(stage.OutputDir, "meta.json")))!["stage"]!.GetValue<string>());
    }

    [Fact]
    public void PackingByImageTrainsOnTheSameLossAsUnpackedBatches()
    {
        using var scope = NewDisposeScope();
        // One batch holding all 12 samples either way: the first step's loss (before any update) must agree.
        var unpacked = Stage("unpacked") with { Epochs = 1, BatchSize = 12, GradientAccumulation = 1, SaveEverySteps = 0 };
        var packed = unpacked with { OutputDir = Path.Combine(temporary, "packed"), PackPerImage = 8 };
        static double FirstLoss(TrainingStage stage) => new StageTrainer().Run(stage).First(p => !double.IsNaN(p.Loss)).Loss;
        Assert.Equal(FirstLoss(unpacked), FirstLoss(packed), 5);
    }

    [Fact]
    public void InterruptedAndResumedRunEndsBitIdenticalToAnUninterruptedRun()
    {
        using var scope = NewDisposeScope();
        var uninterrupted = Stage("uninterrupted");
        foreach (var _ in new StageTrainer().Run(uninterrupted)) { }

        var interrupted = Stage("interrupted");
        InterruptAfterFirstCheckpointAndResume(interrupted);
        AssertSameModelBytes(uninterrupted.OutputDir, interrupted.OutputDir);
    }

    [Theory]
    [InlineData("")]
    [InlineData("--lora-rank 4 --gradient-checkpointing")]
    [InlineData("--lora-rank 4 --gradient-checkpointing --dtype bfloat16")]
    [Trait("Category", "Slow")]
    public void ProcessKilledWithSigkillResumesToBitIdenticalWeights(string options)
    {
        string[] Arguments(string output) => ["train", "--stage", "instruction", "--init", demo.ModelFolder, "--data", dataPath,
            "--image-root", demo.ModelFolder, "--out", Path.Combine(temporary, output), "--epochs", "2", "--lr", "1e-3",
            "--batch-size", "2", "--grad-accum", "2", "--save-every", "2", "--max-length", "128", "--seed", "5",
            "--conv", "mistral_instruct", .. options.Split(' ', StringSplitOptions.RemoveEmptyEntries)];
        // The reference runs in a process of its own too: same thread settings as the killed run.
        using (var uninterrupted = Start(Arguments("reference")))
        {
            uninterrupted.StandardOutput.ReadToEnd();
            uninterrupted.WaitForExit();
            Assert.Equal(0, uninterrupted.ExitCode);
        }
        var reference = Stage("reference");
        var killed = Stage("killed");
        var arguments = Arguments("killed");
        using (var process = Start(arguments))
        {
            // Kill as soon as the first checkpoint is complete: no chance to clean up or flush anything.
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (StageTrainer.LatestCheckpoint(killed.OutputDir) is null && !process.HasExited && DateTime.UtcNow < deadline)
                Thread.Sleep(20);
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        Assert.NotNull(StageTrainer.LatestCheckpoint(killed.OutputDir));
        using (var resumed = Start([.. arguments, "--resume"]))
        {
            var output = resumed.StandardOutput.ReadToEnd() + resumed.StandardError.ReadToEnd();
            resumed.WaitForExit();
            TestContext.Current.TestOutputHelper?.WriteLine(output);
            Assert.Equal(0, resumed.ExitCode);
            Assert.Contains("resumed from", output);
        }
        AssertSameModelBytes(reference.OutputDir, killed.OutputDir);
    }

    static Process Start(string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(CliAssembly);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        return Process.Start(start)!;
    }

    [Fact]
    public void LoraTrainsAdaptersThatAreMergedIntoTheTargetWeightsAndResumesExactly()
    {
        using var scope = NewDisposeScope();
        var lora = new LoraOptions(Rank: 4, Alpha: 8, Dropout: 0.1, TargetModules: ["q_proj", "v_proj"]);
        var straight = Stage("lora") with { Lora = lora };
        foreach (var _ in new StageTrainer().Run(straight)) { }
        var before = Weights(demo.ModelFolder);
        var after = Weights(straight.OutputDir);
        foreach (var (name, value) in before)
        {
            bool changed = !value.equal(after[name]).all().item<bool>();
            bool shouldChange = name.StartsWith("model.mm_projector")
                                || (name.StartsWith("model.layers.") && (name.EndsWith("q_proj.weight") || name.EndsWith("v_proj.weight")));
            Assert.True(changed == shouldChange, $"{name} changed={changed}");
        }

        // The adapters alone (PEFT layout) merged onto the base give the saved merged model, bit for bit.
        using (var pipeline = LlavaMed.Inference.LlavaPipeline.Load(demo.ModelFolder))
        {
            PeftAdapters.Merge(pipeline.Model, Path.Combine(straight.OutputDir, StageTrainer.AdapterFolder));
            var merged = pipeline.Model.state_dict();
            foreach (var (name, value) in after)
                Assert.True(value.equal(merged[name]).all().item<bool>(), $"{name}: base + adapters differs from the merged model");
        }
        string[] Ask(params string[] model) => CliRunner.Run(["ask", .. model, "--image", demo.ImagePath, "--max-new-tokens", "6"])
            .Output.Split('\n').Where(l => l.StartsWith("answer:")).ToArray();
        Assert.Equal(Ask("--model", straight.OutputDir), Ask("--model", demo.ModelFolder, "--adapter", Path.Combine(straight.OutputDir, StageTrainer.AdapterFolder)));

        var interrupted = Stage("lora-interrupted") with { Lora = lora };
        InterruptAfterFirstCheckpointAndResume(interrupted);
        Assert.True(File.Exists(Path.Combine(StageTrainer.LatestCheckpoint(interrupted.OutputDir)!, StageTrainer.AdapterFile)));
        AssertSameModelBytes(straight.OutputDir, interrupted.OutputDir);
    }

    /// <summary>Mixed precision as users run the real model: a bf16 base with float32 adapters, the projector trained in
    /// bf16 through a float32 master copy, gradient checkpointing on; interrupted after a checkpoint and resumed, it
    /// must end with the same bytes as the uninterrupted run.</summary>
    [Fact]
    public void Bfloat16LoraWithCheckpointingResumesExactly()
    {
        using var scope = NewDisposeScope();
        var settings = new LoraOptions(Rank: 4, Alpha: 8, Dropout: 0.1);
        var straight = Stage("bf16-lora") with { Lora = settings, Dtype = ScalarType.BFloat16, GradientCheckpointing = true };
        var losses = new StageTrainer().Run(straight).Where(p => !double.IsNaN(p.Loss)).Select(p => p.Loss).ToList();
        Assert.All(losses, l => Assert.True(double.IsFinite(l)));
        using (var tensors = CheckpointTensors.Open(straight.OutputDir))
            Assert.Equal(ScalarType.BFloat16, tensors.ReadTensor("model.layers.0.self_attn.q_proj.weight").dtype);
        var before = Weights(demo.ModelFolder);
        var after = Weights(straight.OutputDir);
        Assert.False(before["model.mm_projector.0.weight"].to(bfloat16).equal(after["model.mm_projector.0.weight"]).all().item<bool>());
        Assert.False(before["model.layers.1.mlp.down_proj.weight"].to(bfloat16).equal(after["model.layers.1.mlp.down_proj.weight"]).all().item<bool>());
        using (var optimizerState = SafetensorsFile.Open(Path.Combine(StageTrainer.LatestCheckpoint(straight.OutputDir)!, StageTrainer.OptimizerStateFile)))
            Assert.Contains(optimizerState.Names, n => n.EndsWith(".master")); // the bf16 projector's float32 copy

        var interrupted = straight with { OutputDir = Path.Combine(temporary, "bf16-lora-interrupted") };
        InterruptAfterFirstCheckpointAndResume(interrupted);
        AssertSameModelBytes(straight.OutputDir, interrupted.OutputDir);
    }

    [Fact]
    public void GradientCheckpointingTrainsTheSameWeightsAsThePlainRun()
    {
        using var scope = NewDisposeScope();
        var settings = new LoraOptions(Rank: 4, Alpha: 8, Dropout: 0.1);
        foreach (var lora in new LoraOptions?[] { null, settings })
        {
            var plain = Stage($"plain-{lora is null}") with { Lora = lora, Epochs = 1, SaveEverySteps = 0 };
            var checkpointed = plain with { OutputDir = plain.OutputDir + "-checkpointed", GradientCheckpointing = true };
            var plainLosses = new StageTrainer().Run(plain).Select(p => p.Loss).Where(l => !double.IsNaN(l)).ToList();
            var checkpointedLosses = new StageTrainer().Run(checkpointed).Select(p => p.Loss).Where(l => !double.IsNaN(l)).ToList();
            Assert.Equal(plainLosses, checkpointedLosses);
            // The recompute repeats the same float32 operations: the weights come out byte for byte the same.
            AssertSameModelBytes(plain.OutputDir, checkpointed.OutputDir);
        }
    }

    [Fact]
    public void ALoraTargetThatMatchesNoLayerIsOneErrorLineBeforeAnythingIsWritten()
    {
        var output = Path.Combine(temporary, "bad-target");
        var (exitCode, _, error) = CliRunner.Run("train", "--stage", "instruction", "--init", demo.ModelFolder, "--data", dataPath,
            "--image-root", demo.ModelFolder, "--out", output, "--lora-rank", "4", "--lora-targets", "q_proj,qkv_proj");
        Assert.Equal(1, exitCode);
        // stderr also carries train's placement line ("dtype: float32 on cpu ..."): one line is the error.
        Assert.Single(error.Trim().Split('\n'), line => line.StartsWith("error:"));
        Assert.Contains("qkv_proj", error);
        Assert.Contains("LoRA target qkv_proj matches no linear layer", error); // q_proj matches: only qkv_proj is named
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void NonFiniteLossStopsWithAClearMessageAndKeepsTheLastGoodCheckpoint()
    {
        using var scope = NewDisposeScope();
        var stage = Stage("diverging") with { LearningRate = 1e30, WarmupRatio = 0, SaveEverySteps = 1, MaxGradNorm = 0, Epochs = 3 };
        var seen = new List<TrainingProgress>();
        var error = Assert.Throws<NonFiniteLossException>(() => new StageTrainer().Run(stage, new InlineProgress<TrainingProgress>(seen.Add)));
        Assert.Contains("loss is", error.Message);
        Assert.Contains("last good checkpoint", error.Message);
        Assert.NotNull(StageTrainer.LatestCheckpoint(stage.OutputDir));
        Assert.False(File.Exists(Path.Combine(stage.OutputDir, "model.safetensors")));
    }

    [Fact]
    public void TrainingWritesTensorBoardEvents()
    {
        using var scope = NewDisposeScope();
        var stage = Stage("tensorboard") with { Epochs = 1, SaveEverySteps = 0 };
        foreach (var _ in new StageTrainer().Run(stage)) { }
        var events = Directory.GetFiles(Path.Combine(stage.OutputDir, "tensorboard"), "*tfevents*");
        Assert.Single(events);
        // Each TFRecord: 8-byte length, 4-byte CRC, payload, 4-byte CRC; the first event is the file version.
        var bytes = File.ReadAllBytes(events[0]);
        Assert.Contains("brain.Event:2", System.Text.Encoding.ASCII.GetString(bytes));
        Assert.Contains("instruction/loss", System.Text.Encoding.ASCII.GetString(bytes));
    }

    [Fact]
    public void CosineScheduleWarmsUpLinearlyThenDecaysToZero()
    {
        Assert.Equal(3, LearningRateSchedule.WarmupSteps(100, 0.03));
        Assert.Equal(0.0, LearningRateSchedule.CosineWithWarmup(0, 100, 3));
        Assert.Equal(2.0 / 3, LearningRateSchedule.CosineWithWarmup(2, 100, 3), 12);
        Assert.Equal(1.0, LearningRateSchedule.CosineWithWarmup(3, 100, 3), 12);
        Assert.Equal(0.5 * (1 + Math.Cos(Math.PI * 48.0 / 97)), LearningRateSchedule.CosineWithWarmup(51, 100, 3), 12);
        Assert.Equal(0.0, LearningRateSchedule.CosineWithWarmup(100, 100, 3), 12);
    }
}
