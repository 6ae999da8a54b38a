using LlavaMed.Data;
using LlavaMed.Data.Batching;
using LlavaMed.Checkpoints;
using LlavaMed.Text;
using LlavaMed.Workbench;
using static TorchSharp.torch;

namespace LlavaMed.Tests.Data.Batching;

public sealed class BatchLoaderTests : IDisposable
{
    readonly string temporary = Directory.CreateTempSubdirectory("llava-loader-").FullName;

    public void Dispose() => Directory.Delete(temporary, recursive: true);

    [Fact]
    public void CachedImagesGiveTheSameBatchesAsDecodingEachTime()
    {
        var demo = DemoCheckpoint.EnsureCreated(Path.Combine(temporary, "demo"));
        using var pipeline = LlavaMed.Inference.LlavaPipeline.Load(demo.ModelFolder);
        var samples = Enumerable.Range(0, 10).Select(i => new LlavaSample($"s{i}", Path.GetFileName(demo.ImagePath),
            [ConversationTurn.Human("<image>\nWhat is shown?"), ConversationTurn.Gpt($"finding {i}")])).ToList();
        var dataset = TokenizedDataset.Create(samples, ConversationTemplate.MistralInstruct, pipeline.Tokenizer, 128, demo.ModelFolder);
        float[][] Pixels(long cacheBytes)
        {
            var loader = new BatchLoader(dataset, pipeline.ImageProcessor,
                new BatchOptions { BatchSize = 4, Seed = 1, ImageCacheBytes = cacheBytes });
            return Enumerable.Range(0, 2).SelectMany(epoch => loader.Epoch(epoch, cancellation: TestContext.Current.CancellationToken)).Select(batch =>
            {
                using (batch) return batch.PixelValues!.data<float>().ToArray();
            }).ToArray();
        }
        var cached = Pixels(512L << 20);
        Assert.Equal(6, cached.Length); // 3 batches per epoch, 2 epochs
        Assert.Equal(Pixels(0), cached);
    }

    [Fact]
    public void PackedBatchesHoldEverySampleOnceWithOneImagePerRow()
    {
        var demo = DemoCheckpoint.EnsureCreated(Path.Combine(temporary, "demo"));
        using var pipeline = LlavaMed.Inference.LlavaPipeline.Load(demo.ModelFolder);
        var samples = Enumerable.Range(0, 10).Select(i => new LlavaSample($"s{i}", i == 9 ? null : Path.GetFileName(demo.ImagePath),
            [ConversationTurn.Human(i == 9 ? "Describe it." : $"<image>\nQuestion {i}?"), ConversationTurn.Gpt($"finding {i}")])).ToList();
        var dataset = TokenizedDataset.Create(samples, ConversationTemplate.MistralInstruct, pipeline.Tokenizer, 128, demo.ModelFolder);
        var loader = new BatchLoader(dataset, pipeline.ImageProcessor,
            new BatchOptions { BatchSize = 5, Seed = 1, PackPerImage = 5, PackedRowTokens = 113 });
        var batches = loader.Epoch(0, cancellation: TestContext.Current.CancellationToken).ToList();
        Assert.Equal(2, batches.Count);
        Assert.Equal(samples.Select(s => s.Id).Order(), batches.SelectMany(b => b.Ids).Order());
        foreach (var batch in batches)
            using (batch)
            {
                Assert.NotNull(batch.Segments);
                Assert.True(batch.InputIds.Count < batch.Ids.Count, "a batch's questions on one image share a row");
                int rowsWithImage = batch.InputIds.Count(ids => ids.Contains(LlavaMed.Models.MultimodalSplice.ImageTokenIndex));
                Assert.Equal(rowsWithImage, (int)batch.PixelValues!.shape[0]);
            }
    }
}
