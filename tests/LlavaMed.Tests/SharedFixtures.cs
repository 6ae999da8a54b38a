using LlavaMed.Workbench;

namespace LlavaMed.Tests;

/// <summary>Locates files under ../shared (or $LLAVAMED_SHARED). In CI (CI=true) a missing file fails the test;
/// elsewhere the test is skipped with a message naming what is missing and where it was looked for.</summary>
public static class SharedFixtures
{
    public static string Root => WorkbenchPaths.SharedRoot();

    public static string Require(params string[] relative)
    {
        var path = Path.Combine([Root, .. relative]);
        if (File.Exists(path) || Directory.Exists(path)) return path;
        var message = $"shared fixture missing: {Path.Combine(relative)} (looked for {path}; set "
                      + $"{WorkbenchPaths.SharedEnvironmentVariable} to the shared folder)";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail(message);
        Assert.Skip(message);
        return path;
    }

    public static string V15Tiny => Require("fixtures", "llava-med-v1.5-tiny");
    public static string V10Tiny => Require("fixtures", "llava-med-v1.0-tiny");
    public static string Tokenizer => Require("fixtures", "tokenizer");
    public static string ImagePreprocess => Require("fixtures", "image-preprocess");
}
