using System.Threading.Channels;
using LlavaMed.Images;
using LlavaMed.Models;
using static TorchSharp.torch;

namespace LlavaMed.Data.Batching;

/// <summary>One training batch: unpadded rows (the model's splice pads them) and the images of the rows that have
/// one, in row order; <see cref="Ids"/> are the batch's samples, <see cref="Segments"/> the rows' segment ids when
/// they are packed (<see cref="ImagePacking"/>). Pixel values are a tensor the caller owns.</summary>
public sealed record TrainingBatch(int Epoch, int Index, IReadOnlyList<string> Ids, IReadOnlyList<long[]> InputIds,
                                   IReadOnlyList<long[]> Labels, Tensor? PixelValues, IReadOnlyList<long[]>? Segments = null) : IDisposable
{
    public void Dispose() => PixelValues?.Dispose();
}

public sealed record BatchOptions
{
    /// <summary>Samples per batch on each rank (<c>per_device_train_batch_size</c>).</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>Data-parallel training: this process's rank and the number of ranks. The epoch's order is cut into
    /// global batches of <see cref="GlobalBatchSize"/> and each rank trains its share (<see cref="SampleOrder.RankShare"/>).</summary>
    public int Rank { get; init; }
    public int WorldSize { get; init; } = 1;
    public int GlobalBatchSize => BatchSize * WorldSize;
    public int Seed { get; init; }
    /// <summary>LLaVA's <c>group_by_modality_length</c>: batches hold only image or only text samples.</summary>
    public bool GroupByModalityLength { get; init; } = true;
    /// <summary>When above 0: order the samples in groups of up to this many questions on one image and pack each
    /// batch's samples of one image into shared-prefix rows (<see cref="ImagePacking"/>) of at most
    /// <see cref="PackedRowTokens"/> token ids; replaces <see cref="GroupByModalityLength"/>.</summary>
    public int PackPerImage { get; init; }
    public bool PackByImage => PackPerImage > 0;
    public int PackedRowTokens { get; init; } = 2048;
    /// <summary>How many batches the background workers prepare ahead of the consumer.</summary>
    public int Prefetch { get; init; } = 4;
    public int Workers { get; init; } = Math.Max(1, Environment.ProcessorCount - 1);
    /// <summary>Preprocessed images kept for later epochs and other questions on the same image (VQA sets ask
    /// about ten per image), up to this many bytes; the rest are decoded each time they are used.</summary>
    public long ImageCacheBytes { get; init; } = 512L << 20;
}

/// <summary>Turns a tokenized dataset into batches in a deterministic per-epoch order. Images are decoded and
/// preprocessed on background threads (into float arrays); the consumer's thread makes the tensors, so they
/// belong to its dispose scopes. Preprocessed images are cached (see <see cref="BatchOptions.ImageCacheBytes"/>).</summary>
public sealed class BatchLoader(TokenizedDataset dataset, ClipImageProcessor imageProcessor, BatchOptions options)
{
    readonly System.Collections.Concurrent.ConcurrentDictionary<string, float[]> imageCache = new(StringComparer.Ordinal);
    long cachedBytes;

    /// <summary>Global batches per epoch: the same on every rank, whatever the number of ranks.</summary>
    public int BatchesPerEpoch => (dataset.Samples.Count + options.GlobalBatchSize - 1) / options.GlobalBatchSize;

    /// <summary>The epoch's order of all samples (every rank computes the same one from the seed).</summary>
    public int[] EpochOrder(int epoch) =>
        options.PackByImage ? SampleOrder.ImageGroups(dataset.Samples.Select(s => s.ImagePath).ToArray(), options.PackPerImage, options.Seed, epoch).SelectMany(g => g).ToArray()
        : options.GroupByModalityLength ? SampleOrder.ModalityGrouped(dataset.Samples.Select(s => s.ModalityLength).ToArray(), options.GlobalBatchSize, options.Seed, epoch)
        : SampleOrder.Shuffle(dataset.Samples.Count, options.Seed, epoch);

    /// <summary>This rank's batches of an epoch from global batch <paramref name="startBatch"/> on (to resume
    /// mid-epoch). A rank whose share of the last global batch is empty gets an empty batch.</summary>
    public IEnumerable<TrainingBatch> Epoch(int epoch, int startBatch = 0, CancellationToken cancellation = default)
    {
        var batches = EpochOrder(epoch).Chunk(options.GlobalBatchSize).Skip(startBatch)
            .Select(global => SampleOrder.RankShare(global, options.Rank, options.WorldSize,
                                                    options.PackByImage ? i => dataset.Samples[i].ImagePath : null)).ToArray();
        var prepared = Channel.CreateBounded<Task<PreparedBatch>>(Math.Max(1, options.Prefetch));
        using var workers = new SemaphoreSlim(options.Workers);
        var producer = Task.Run(async () =>
        {
            try
            {
                for (int b = 0; b < batches.Length; b++)
                {
                    var members = batches[b];
                    var index = startBatch + b;
                    await workers.WaitAsync(cancellation);
                    var work = Task.Run(() =>
                    {
                        try { return Prepare(index, members); }
                        finally { workers.Release(); }
                    }, cancellation);
                    await prepared.Writer.WriteAsync(work, cancellation);
                }
                prepared.Writer.Complete();
            }
            catch (Exception e)
            {
                prepared.Writer.Complete(e);
            }
        }, cancellation);
        var reader = prepared.Reader;
        while (reader.WaitToReadAsync(cancellation).AsTask().GetAwaiter().GetResult())
        {
            while (reader.TryRead(out var next))
            {
                var batch = next.GetAwaiter().GetResult();
                yield return batch.ToTrainingBatch(epoch);
            }
        }
        producer.GetAwaiter().GetResult();
    }

    sealed record PreparedBatch(int Index, IReadOnlyList<BatchRow> Rows, float[][] Images, int Height, int Width, bool Packed)
    {
        public TrainingBatch ToTrainingBatch(int epoch)
        {
            var pixels = Images.Length == 0 ? null : ClipImageProcessor.ToBatchTensor(Images, Height, Width);
            return new TrainingBatch(epoch, Index, Rows.SelectMany(r => r.Ids).ToArray(), Rows.Select(r => r.InputIds).ToArray(),
                                     Rows.Select(r => r.Labels).ToArray(), pixels,
                                     Packed ? Rows.Select(r => r.Segments ?? Enumerable.Repeat(PackedSegments.Shared, r.InputIds.Length).ToArray()).ToArray() : null);
        }
    }

    PreparedBatch Prepare(int index, int[] members)
    {
        var samples = members.Select(i => dataset.Samples[i]).ToArray();
        var rows = samples.Length == 0 ? [] : options.PackByImage ? ImagePacking.Pack(samples, options.PackedRowTokens) : samples.Select(BatchRow.Plain).ToArray();
        var images = rows.Where(r => r.HasImage).Select(r => Preprocessed(r.ImagePath!)).ToArray();
        return new PreparedBatch(index, rows, images, imageProcessor.Config.CropHeight, imageProcessor.Config.CropWidth, options.PackByImage);
    }

    /// <summary>The image's pixel values, shared read-only between batches (batch tensors copy them).</summary>
    float[] Preprocessed(string path)
    {
        if (imageCache.TryGetValue(path, out var cached)) return cached;
        var pixels = imageProcessor.Preprocess(RgbImage.Load(path));
        if (!imageProcessor.IsDeterministic) return pixels;
        if (Interlocked.Add(ref cachedBytes, pixels.Length * sizeof(float)) <= options.ImageCacheBytes) imageCache.TryAdd(path, pixels);
        else Interlocked.Add(ref cachedBytes, -pixels.Length * sizeof(float));
        return pixels;
    }
}
