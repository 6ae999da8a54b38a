using Parquet;
using Parquet.Data;
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
                string?[] Strings(DataField? field) =>
                    field is null ? new string?[count] : Read<char, string>(path, rowGroup, field, count, text => new string(text.Span));
                var images = Read<byte, byte[]>(path, rowGroup, bytesField, count, bytes => bytes.ToArray());
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

    /// <summary>One column of a row group, one value per row (null where the row has none: a null struct or leaf).
    /// The column's values are packed (present values only) and its definition levels say which rows they belong
    /// to; Parquet.Net 6.1's <c>ReadAsync</c> does not spread the values of a leaf inside a struct back to their
    /// rows, so this does it.</summary>
    static TValue?[] Read<TElement, TValue>(string path, ParquetRowGroupReader rowGroup, DataField field, int count,
                                            Func<ReadOnlyMemory<TElement>, TValue> convert) where TValue : class
    {
        using var raw = rowGroup.ReadRawColumnDataBaseAsync(field).AsTask().GetAwaiter().GetResult();
        if (raw is not RawColumnData<ReadOnlyMemory<TElement>> column)
            throw new DataFormatException(path, "schema", $"column '{field.Path}' holds {field.ClrType.Name}, not {(typeof(TElement) == typeof(char) ? "text" : "binary")}");
        var present = column.Values;
        var levels = field.MaxDefinitionLevel > 0 ? column.DefinitionLevels : default;
        var values = new TValue?[count];
        for (int row = 0, next = 0; row < count; row++)
            if (field.MaxDefinitionLevel == 0 || levels[row] == field.MaxDefinitionLevel) values[row] = convert(present[next++]);
        return values;
    }
}
