using LlavaMed.Curriculum;
using LlavaMed.Evaluation;
using LlavaMed.Images;
using LlavaMed.Notebooks;
using LlavaMed.Plotting;
using LlavaMed.Training;
using LlavaMed.Views;
using LlavaMed.Workbench;
using Microsoft.Data.Analysis;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Formatting;
using SkiaSharp;
using static TorchSharp.torch;

namespace LlavaMed.Interactive;

/// <summary>The workbench's .NET Interactive adapter: everything that knows the notebook kernel lives in this project,
/// so the library never references it. A notebook loads it with one line after its <c>#r</c>s,
/// <c>LlavaMed.Interactive.WorkbenchKernelExtension.Load(Microsoft.DotNet.Interactive.Kernel.Root)</c>; a NuGet package of this project would load
/// it through <c>extension.dib</c> or as an <see cref="IKernelExtension"/>. From then on a cell that ends with (or
/// <c>display</c>s) a tensor, an image, a data frame, a chart or one of the workbench's results shows it as HTML.</summary>
public sealed class WorkbenchKernelExtension : IKernelExtension
{
    public Task OnLoadAsync(Kernel kernel)
    {
        Load(kernel);
        return Task.CompletedTask;
    }

    /// <summary>Registers the formatters and returns what <see cref="WorkbenchInfo.Collect"/> says about this process
    /// (plus the kernel's version), so that a notebook's loading cell shows where it runs.</summary>
    public static WorkbenchInfo Load(Kernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        PlotlyJsOnce.Reset();
        Html<HtmlView>(view => view);
        Formatter.Register<Chart>(PlotlyJsOnce.Format, HtmlFormatter.MimeType);
        Formatter.SetPreferredMimeTypesFor(typeof(Chart), HtmlFormatter.MimeType);
        Html<Tensor>(tensor => TensorSummary.Of(tensor).ToHtml());
        Html<TensorSummary>(summary => summary.ToHtml());
        Html<RgbImage>(image => HtmlView.Png(image.EncodePng(), $"{image.Width}x{image.Height}"));
        Html<SKBitmap>(bitmap => Png(SKImage.FromBitmap(bitmap)));
        Html<SKImage>(image => Png(image, dispose: false));
        Html<DataFrame>(frame => HtmlView.Table(frame));
        Html<WorkbenchInfo>(info => info.ToHtml());
        Html<TrainingProgress>(WorkbenchResultViews.Training);
        Html<AnswerRecord>(answer => WorkbenchResultViews.Answers([answer]));
        Html<IEnumerable<AnswerRecord>>(WorkbenchResultViews.Answers);
        Html<VqaReport>(report => VqaReportTable.Html(["value"], [report]));
        Html<LlavaMedV1Scores>(scores => VqaReportTable.Html(["value"], [new VqaReport(scores, null)]));
        Html<StrictScores>(scores => VqaReportTable.Html(["value"], [new VqaReport(null, scores)]));
        return WorkbenchInfo.Collect([("kernel", $"{kernel.Name}, .NET Interactive {WorkbenchInfo.Version(typeof(Kernel).Assembly)}")]);
    }

    static void Html<T>(Func<T, HtmlView> view)
    {
        Formatter.Register<T>((value, context) =>
        {
            context.Writer.Write(view(value).Html);
            return true;
        }, HtmlFormatter.MimeType);
        Formatter.SetPreferredMimeTypesFor(typeof(T), HtmlFormatter.MimeType);
    }

    static HtmlView Png(SKImage image, bool dispose = true)
    {
        try
        {
            using var png = image.Encode(SKEncodedImageFormat.Png, 100);
            return HtmlView.Png(png.ToArray(), $"{image.Width}x{image.Height}");
        }
        finally
        {
            if (dispose) image.Dispose();
        }
    }

    /// <summary>plotly.js (3.6 MB) goes into a notebook once: the first chart a kernel shows after <see cref="Load"/>
    /// sends it as an output of its own, and every chart carries only its figure (a few kilobytes), queued until
    /// plotly.js is there (<see cref="Chart.HtmlSharingPlotlyJs"/>). A separate output, not the chart's, because a
    /// live chart replaces its output on every update: the saved notebook must still hold plotly.js afterwards.</summary>
    static class PlotlyJsOnce
    {
        static int sent;

        public static void Reset() => Interlocked.Exchange(ref sent, 0);

        public static bool Format(Chart chart, FormatContext context)
        {
            if (Interlocked.Exchange(ref sent, 1) == 0)
            {
                if (KernelInvocationContext.Current is { } invocation)
                    invocation.Display(new HtmlView(Chart.PlotlyScriptElement()), HtmlFormatter.MimeType);
                else
                {
                    context.Writer.Write(chart.Html);   // formatted outside a cell: the fragment must stand alone
                    return true;
                }
            }
            context.Writer.Write(chart.HtmlSharingPlotlyJs);
            return true;
        }
    }
}
