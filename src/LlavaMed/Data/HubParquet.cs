using Parquet;
using Parquet.Schema;

namespace LlavaMed.Data;

/// <summary>One row of a Hugging Face hub VQA Parquet file (e.g. the hub copies of VQA-RAD, SLAKE and PathVQA):
/// the image's encoded bytes (and original file name when the hub kept it), the question and the answer. The hub
/// copies carry no answer type, so <see cref="ToVqaItem"/> calls yes/no answers CLOSED and the rest OPEN unless the
/// file has an <c>answer_type</c> column.</summary>
public sealed record HubVqaRow(long Row, byte[] ImageBytes, string? ImagePath, string Question, string Answer, string? AnswerType)
{
    public VqaItem ToVqaItem(string id, string imageFile) =>
        new(id, imageFile, Question, Answer,
            AnswerType ?? (VqaAnswerTypes.IsYesNo(Answer) ? VqaAnswerTypes.Closed : VqaAnswerTypes.Open));

    /// <summary>The image's file extension from its magic bytes (JPEG, PNG, GIF, BMP, WebP), else from
    /// <see cref="ImagePath"/>, else <c>.img</c>.</summary>
    public string ImageExtension => ImageBytes switch
    {
        [0xFF, 0xD8, ..] => ".jpg",
        [0x89, (byte)'P', (byte)'N', (byte)'G', ..] => ".png",
        [(byte)'G', (byte)'I', (byte)'F', ..] => ".gif",
        [(byte)'B', (byte)'M', ..] => ".bmp",
        [(byte)'R', (byte)'I', (byte)'F', (byte)'F', _, _, _, _, (byte)'W', (byte)'E', (byte)'B', (byte)'P', ..] => ".webp",
        _ when Path.GetExtension(ImagePath) is { Length: > 1 } extension => extension.ToLowerInvariant(),
        _ => ".img",
    };
}

/// <summary>Reads hub VQA Parquet files one row group at a time. The image column is the hub's <c>Image</c> feature,
/// a struct <c>image {bytes, path}</c>, or a plain binary <c>image</c> column; <c>question</c> and <c>answer</c> are
/// strings; an <c>answer_type</c> column is used when present. Split names come from the hub's file names
/// (<c>data/train-00000-of-00001.parquet</c>).</summary>
public static class HubParquet
{
    public static RecordStream<HubVqaRow> Read(string path, BadRecordPolicy policy = BadRecordPolicy.Fail) =>
        RecordStream<HubVqaRow>.Create(path, policy, () => Rows(path), (row, _) => row);

    /// <summary>The split a hub file belongs to: the part of its name before the first '-' (train, test, validation
    /// -> val).</summary>
    public static string SplitOf(string file)
    {
        var name = Path.GetFileNameWithoutExtension(file);
        var split = name.Split('-')[0].ToLowerInvariant();
        return split is "validation" or "valid" or "validate" ? "val" : split;
    }

    // Parquet.Net is asynchronous only; these readers run outside any synchronization context (CLI, notebooks).
    static IEnumerable<SourceRecord<HubVqaRow>> Rows(string path)
    {
        var reader = ParquetReader.CreateAsync(path).GetAwaiter().GetResult();
        try
        {
            var fields = reader.Schema.GetDataFields();
            DataField? Find(params string[][] paths) =>
                paths.Select(p => fields.FirstOrDefault(f => f.Path.ToList().SequenceEqual(p))).FirstOrDefault(f => f is not null);
            var bytesField = Find(["image", "bytes"], ["image"])
                             ?? throw new DataFormatException(path, "schema", "no image column ('image' struct with 'bytes', or binary 'image')");
            var pathField = Find(["image", "path"]);
            var questionField = Find(["question"]) ?? throw new DataFormatException(path, "schema", "no 'question' column");
            var answerField = Find(["answer"]) ?? throw new DataFormatException(path, "schema", "no 'answer' column");
            var answerTypeField = Find(["answer_type"]);
            long rowBase = 0;
            for (var group = 0; group < reader.RowGroupCount; group++)
            {
                var rowGroup = reader.OpenRowGroupReader(group);
                var count = (int)rowGroup.RowCount;
                byte[]?[] Bytes(DataField field) => Read<byte[]>(field, count, (f, m) => rowGroup.ReadAsync(f, m));
                string?[] Strings(DataField? field) => field is null ? new string?[count] : Read<string>(field, count, (f, m) => rowGroup.ReadAsync(f, m));
                var images = Bytes(bytesField);
                var (imagePaths, questions, answers, answerTypes) = (Strings(pathField), Strings(questionField), Strings(answerField), Strings(answerTypeField));
                for (var i = 0; i < count; i++)
                {
                    var location = $"row {rowBase + i}";
                    string? problem = images[i] is null or { Length: 0 } ? "no image bytes"
                                    : questions[i] is null ? "no question" : answers[i] is null ? "no answer" : null;
                    string? answerType = null;
                    if (problem is null && answerTypes[i] is { } label)
                        try
                        {
                            answerType = VqaAnswerTypes.Normalize(label, path, location);
                        }
                        catch (DataFormatException e)
                        {
                            problem = e.Problem;
                        }
                    yield return problem is null
                        ? new SourceRecord<HubVqaRow>(location, new HubVqaRow(rowBase + i, images[i]!, imagePaths[i], questions[i]!, answers[i]!, answerType))
                        : new SourceRecord<HubVqaRow>(location, null, problem);
                }
                rowBase += count;
            }
        }
        finally
        {
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    static TValue?[] Read<TValue>(DataField field, int count, Func<DataField, Memory<TValue?>, ValueTask> read) where TValue : class
    {
        var values = new TValue?[count];
        read(field, values).AsTask().GetAwaiter().GetResult();
        return values;
    }
}
