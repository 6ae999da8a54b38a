using SkiaSharp;
using static LlavaMed.Data.Synthetic.SkiaSketch;

namespace LlavaMed.Data.Synthetic;

/// <summary>Draws a <see cref="FindingRecord"/> as a PNG: an anatomy-like background with texture, the finding at
/// its recorded side, level, size and count, a small random pose change, brightness jitter and pixel noise. The
/// finding is a local structure (a spot, a fluid level, a wedge, a cell cluster), never a global colour change,
/// so a model has to look at the image to answer.</summary>
public static class FigureRenderer
{
    public static byte[] Render(FindingRecord record, int size, Random random)
    {
        using var sketch = new SkiaSketch(size);
        switch (record.Domain)
        {
            case BiomedicalDomain.ChestXray: ChestXray(sketch, record, random); break;
            case BiomedicalDomain.CtScan: AbdominalCt(sketch, record, random); break;
            case BiomedicalDomain.Mri: BrainMri(sketch, record, random); break;
            case BiomedicalDomain.Histology: Histology(sketch, record, random); break;
            default: Gross(sketch, record, random); break;
        }
        var radiograph = record.Domain is BiomedicalDomain.ChestXray or BiomedicalDomain.CtScan or BiomedicalDomain.Mri;
        return sketch.EncodePng(random, radiograph ? 10 : 8, grey: radiograph);
    }

    /// <summary>Image x of a patient side on a radiograph (the patient's right is on the image's left).</summary>
    static float RadiologicalX(string? side, float offset) => side == "right" ? 0.5f - offset : 0.5f + offset;

    /// <summary>Places <paramref name="count"/> non-overlapping spots of radius <paramref name="r"/> inside a box.</summary>
    static List<SKPoint> Scatter(Random random, int count, float r, float left, float top, float right, float bottom)
    {
        var points = new List<SKPoint>();
        for (var attempt = 0; points.Count < count && attempt < 200; attempt++)
        {
            var p = new SKPoint(random.Uniform(left, right), random.Uniform(top, bottom));
            if (points.All(q => SKPoint.Distance(p, q) > 2.4f * r) || attempt > 150) points.Add(p);
        }
        return points;
    }

    static void ChestXray(SkiaSketch s, FindingRecord record, Random random)
    {
        var b = random.Next(-12, 13); // exposure
        s.Clear(Grey(12 + random.Next(12)));
        s.Jitter(random, 4, 0.03f, 0.04f);
        s.Oval(0.5f, 0.6f, 0.47f, 0.55f, Grey(115 + b), 0.02f);
        // Clavicles and shoulders.
        s.Line(0.1f, 0.14f, 0.44f, 0.19f, 0.025f, Grey(175 + b), 0.006f);
        s.Line(0.9f, 0.14f, 0.56f, 0.19f, 0.025f, Grey(175 + b), 0.006f);
        float lungY = 0.48f, lungRx = 0.155f, lungRy = 0.3f;
        float[] lungX = [0.31f, 0.69f];
        foreach (var x in lungX) s.Oval(x, lungY, lungRx, lungRy, Grey(42 + b), 0.012f);
        // Vascular markings radiating from the hila.
        foreach (var x in lungX)
        {
            var hilumX = x < 0.5f ? 0.43f : 0.57f;
            for (var i = 0; i < 14; i++)
            {
                var angle = random.Uniform(0.6, 2.6) * (x < 0.5f ? -1 : 1);
                var length = random.Uniform(0.08, 0.2);
                var dx = MathF.Sin(angle) * length;
                var dy = -MathF.Cos(angle) * length * 1.3f;
                s.Line(hilumX, 0.5f, hilumX + dx, 0.5f + dy, 0.006f, Grey(78 + b), 0.004f);
            }
        }
        var side = record.Laterality;
        var lungCentre = RadiologicalX(side, 0.19f);
        using var lungPath = new SKPath();
        lungPath.AddOval(SKRect.Create(lungCentre - lungRx, lungY - lungRy, 2 * lungRx, 2 * lungRy));
        var large = record.Size == "large";
        if (record.Finding == "pleural effusion")
        {
            var top = large ? 0.5f : 0.62f;
            var lateral = side == "right" ? lungCentre - lungRx : lungCentre + lungRx;
            s.Clipped(lungPath, () =>
            {
                s.Rect(lungCentre - lungRx, top, lungCentre + lungRx, 1f, Grey(160 + b), 0.008f);
                // The meniscus climbs the lateral chest wall.
                s.Oval(lateral, top, 0.05f, 0.09f, Grey(160 + b), 0.008f);
            });
        }
        else if (record.Finding == "pneumothorax")
        {
            var lateral = side == "right" ? lungCentre - lungRx * 0.55f : lungCentre + lungRx * 0.55f;
            float rx = large ? 0.11f : 0.07f, ry = large ? 0.22f : 0.13f;
            s.Clipped(lungPath, () =>
            {
                s.Oval(lateral, lungY - lungRy * 0.55f, rx, ry, Grey(6), 0.004f);
                s.OvalOutline(lateral, lungY - lungRy * 0.55f, rx, ry, 0.006f, Grey(190 + b));
            });
        }
        // Posterior ribs over both lungs.
        foreach (var x in lungX)
            for (var i = 0; i < 6; i++)
            {
                var y = 0.22f + i * 0.085f + random.Uniform(-0.01, 0.01);
                var oval = SKRect.Create(x - 0.2f, y - 0.05f, 0.4f, 0.14f);
                s.Arc(oval, x < 0.5f ? 190 : 200, 150, 0.016f, Grey(150 + b).WithAlpha(120), 0.004f);
            }
        // Mediastinum, spine and heart.
        s.Rect(0.455f, 0.06f, 0.545f, 1f, Grey(165 + b), 0.01f);
        var heartRx = record.Finding == "cardiomegaly" ? 0.225f : 0.13f;
        var heartRy = record.Finding == "cardiomegaly" ? 0.16f : 0.11f;
        s.Oval(0.54f, 0.67f, heartRx, heartRy, Grey(172 + b), 0.012f);
        if (record.Finding == "nodule")
        {
            var r = large ? 0.042f : 0.022f;
            var (top, bottom) = record.Level == "upper" ? (0.26f, 0.38f) : (0.58f, 0.68f);
            foreach (var p in Scatter(random, record.Count, r, lungCentre - 0.07f, top, lungCentre + 0.07f, bottom))
                s.Circle(p.X, p.Y, r, Grey(205 + b), r * 0.25f);
        }
    }

    static void AbdominalCt(SkiaSketch s, FindingRecord record, Random random)
    {
        var b = random.Next(-10, 11);
        s.Clear(Grey(random.Next(8)));
        s.Jitter(random, 5, 0.03f, 0.05f);
        s.Oval(0.5f, 0.53f, 0.45f, 0.34f, Grey(80 + b), 0.004f);      // subcutaneous fat
        s.Oval(0.5f, 0.53f, 0.41f, 0.3f, Grey(112 + b), 0.004f);      // abdominal wall muscle
        s.Oval(0.5f, 0.52f, 0.38f, 0.27f, Grey(92 + b), 0.004f);      // peritoneal cavity
        using var cavity = new SKPath();
        cavity.AddOval(SKRect.Create(0.12f, 0.25f, 0.76f, 0.54f));
        // Bowel loops as texture.
        foreach (var p in Scatter(random, 7, 0.03f, 0.42f, 0.3f, 0.66f, 0.5f))
        {
            s.Circle(p.X, p.Y, random.Uniform(0.025, 0.04), Grey(120 + random.Next(-15, 25) + b), 0.003f);
            s.Circle(p.X, p.Y, random.Uniform(0.008, 0.015), Grey(random.Chance(0.5) ? 30 : 170), 0.003f);
        }
        s.Oval(0.31f, 0.45f, 0.16f, 0.16f, Grey(138 + b), 0.004f);    // liver (patient right)
        s.Oval(0.74f, 0.43f, 0.065f, 0.1f, Grey(132 + b), 0.004f);    // spleen
        s.Oval(0.58f, 0.37f, 0.07f, 0.05f, Grey(55 + b), 0.004f);     // stomach
        float[] kidneyX = [RadiologicalX("right", 0.14f), RadiologicalX("left", 0.14f)];
        foreach (var x in kidneyX)
        {
            s.Oval(x, 0.64f, 0.048f, 0.068f, Grey(152 + b), 0.003f);
            s.Oval(x + (x < 0.5f ? 0.02f : -0.02f), 0.64f, 0.015f, 0.025f, Grey(85 + b), 0.003f);
        }
        s.Circle(0.52f, 0.6f, 0.024f, Grey(178 + b), 0.002f);          // aorta
        s.Circle(0.45f, 0.59f, 0.022f, Grey(150 + b), 0.002f);         // IVC
        s.Oval(0.42f, 0.76f, 0.05f, 0.04f, Grey(110 + b), 0.003f);     // paraspinal muscles
        s.Oval(0.58f, 0.76f, 0.05f, 0.04f, Grey(110 + b), 0.003f);
        s.Circle(0.5f, 0.71f, 0.055f, Grey(228 + b), 0.003f);          // vertebral body
        s.Circle(0.5f, 0.71f, 0.035f, Grey(165 + b), 0.003f);
        s.Rect(0.49f, 0.75f, 0.51f, 0.83f, Grey(225 + b), 0.003f);
        var large = record.Size == "large";
        var kidney = RadiologicalX(record.Laterality, 0.14f);
        switch (record.Finding)
        {
            case "liver lesion":
                var r = large ? 0.045f : 0.024f;
                foreach (var p in Scatter(random, record.Count, r, 0.23f, 0.37f, 0.38f, 0.53f))
                    s.Circle(p.X, p.Y, r, Grey(72 + b), r * 0.2f);
                break;
            case "kidney stone":
                foreach (var p in Scatter(random, record.Count, 0.022f, kidney - 0.015f, 0.6f, kidney + 0.015f, 0.68f))
                    s.Circle(p.X, p.Y, 0.024f, Grey(252), 0.002f);
                break;
            case "renal cyst":
                var cystR = large ? 0.042f : 0.025f;
                var cystX = kidney + (kidney < 0.5f ? -0.03f : 0.03f);
                s.Circle(cystX, 0.64f + random.Uniform(-0.03, 0.03), cystR, Grey(60 + b), 0.002f);
                break;
            case "ascites":
                s.Clipped(cavity, () => s.OvalOutline(0.5f, 0.52f, 0.38f, 0.27f, large ? 0.11f : 0.055f, Grey(62 + b), 0.004f));
                break;
        }
    }

    static void BrainMri(SkiaSketch s, FindingRecord record, Random random)
    {
        var b = random.Next(-10, 11);
        s.Clear(Grey(random.Next(6)));
        s.Jitter(random, 5, 0.025f, 0.04f);
        s.Oval(0.5f, 0.5f, 0.4f, 0.46f, Grey(150 + b), 0.004f);   // scalp fat
        s.Oval(0.5f, 0.5f, 0.375f, 0.435f, Grey(22), 0.003f);     // skull
        s.Oval(0.5f, 0.5f, 0.355f, 0.415f, Grey(40 + b), 0.003f); // CSF
        s.Oval(0.5f, 0.5f, 0.34f, 0.4f, Grey(100 + b), 0.004f);   // cortex
        s.Oval(0.5f, 0.5f, 0.26f, 0.32f, Grey(132 + b), 0.015f);  // white matter
        // Sulci: short dark radial lines at the brain surface.
        for (var i = 0; i < 44; i++)
        {
            var angle = i / 44f * 2 * MathF.PI + random.Uniform(-0.05, 0.05);
            var (cos, sin) = (MathF.Cos(angle), MathF.Sin(angle));
            var depth = random.Uniform(0.8, 0.9);
            s.Line(0.5f + cos * 0.34f, 0.5f + sin * 0.4f, 0.5f + cos * 0.34f * depth, 0.5f + sin * 0.4f * depth, 0.007f, Grey(50 + b), 0.003f);
        }
        s.Line(0.5f, 0.1f, 0.5f, 0.9f, 0.006f, Grey(45 + b), 0.002f); // falx
        var hydrocephalus = record.Finding == "hydrocephalus";
        float ventRx = hydrocephalus ? 0.06f : 0.025f, ventRy = hydrocephalus ? 0.15f : 0.09f;
        s.RotatedOval(0.5f - ventRx * 1.1f, 0.48f, ventRx, ventRy, 12, Grey(38 + b), 0.004f);
        s.RotatedOval(0.5f + ventRx * 1.1f, 0.48f, ventRx, ventRy, -12, Grey(38 + b), 0.004f);
        var large = record.Size == "large";
        var x = RadiologicalX(record.Laterality, 0.16f) + random.Uniform(-0.02, 0.02);
        var y = record.Level == "upper" ? 0.3f : 0.7f;
        switch (record.Finding)
        {
            case "brain tumor":
                var r = large ? 0.08f : 0.045f;
                s.Circle(x, y, r * 1.6f, Grey(85 + b), r * 0.4f);     // oedema
                s.Circle(x, y, r, Grey(70 + b), 0.003f);              // necrotic core
                s.Ring(x, y, r, r * 0.3f, Grey(235), 0.003f);         // enhancing rim
                break;
            case "infarct":
                // A wedge with its base on the cortex, pointing to the centre of the brain.
                var spread = large ? 0.35f : 0.2f;
                var centre = MathF.Atan2((y - 0.5f) / 0.4f, (x - 0.5f) / 0.34f);
                using (var wedge = Polygon((0.5f + (x - 0.5f) * 0.35f, 0.5f + (y - 0.5f) * 0.35f),
                           (0.5f + MathF.Cos(centre - spread) * 0.33f, 0.5f + MathF.Sin(centre - spread) * 0.39f),
                           (0.5f + MathF.Cos(centre + spread) * 0.33f, 0.5f + MathF.Sin(centre + spread) * 0.39f)))
                    s.Path(wedge, Grey(62 + b), 0.006f);
                break;
            case "white matter lesions":
                for (var i = 0; i < record.Count; i++)
                {
                    var lx = i % 2 == 0 ? 0.4f : 0.6f;
                    var ly = 0.36f + i / 2 * 0.22f + random.Uniform(-0.03, 0.03);
                    s.RotatedOval(lx + random.Uniform(-0.02, 0.02), ly, 0.018f, 0.03f, random.Uniform(-30, 30), Grey(215), 0.003f);
                }
                break;
        }
    }

    static (SKColor Stroma, SKColor Cytoplasm, SKColor Nucleus, SKColor Lumen, SKColor Positive) Stain(string? stain, int b)
    {
        (SKColor Stroma, SKColor Cytoplasm, SKColor Nucleus, SKColor Lumen, SKColor Positive) palette = stain switch
        {
            "trichrome" => (new(110, 155, 210), new(205, 95, 105), new(70, 40, 75), new(240, 240, 245), new(70, 40, 75)),
            "ihc" => (new(222, 222, 228), new(200, 200, 214), new(95, 105, 175), new(245, 245, 248), new(140, 82, 38)),
            _ => (new(236, 178, 206), new(222, 145, 188), new(78, 48, 140), new(246, 238, 244), new(60, 30, 110)),
        };
        return (Shade(palette.Stroma, b), Shade(palette.Cytoplasm, b), Shade(palette.Nucleus, b / 2), palette.Lumen, palette.Positive);
    }

    static void Histology(SkiaSketch s, FindingRecord record, Random random)
    {
        var (stroma, cytoplasm, nucleus, lumen, positive) = Stain(record.Appearance, random.Next(-8, 9));
        s.Clear(stroma);
        s.Jitter(random, 180, 0.02f, 0.05f);
        if (record.Anatomy == "liver")
        {
            // Hepatocyte plates radiating from a central vein.
            for (var row = -1; row < 16; row++)
                for (var col = -1; col < 16; col++)
                {
                    var cx = col * 0.072f + (row % 2) * 0.036f + random.Uniform(-0.008, 0.008);
                    var cy = row * 0.068f + random.Uniform(-0.008, 0.008);
                    s.RotatedOval(cx, cy, 0.03f, 0.026f, random.Uniform(0, 90), cytoplasm, 0.003f);
                    s.Circle(cx + random.Uniform(-0.006, 0.006), cy, 0.011f, nucleus, 0.002f);
                }
            s.Circle(random.Uniform(0.3, 0.7), random.Uniform(0.3, 0.7), 0.06f, lumen, 0.004f);
        }
        else
        {
            // Colonic crypts: rings of columnar cells around a lumen, with stromal cells between them.
            for (var i = 0; i < 120; i++) s.Circle(random.Uniform(-0.1, 1.1), random.Uniform(-0.1, 1.1), 0.007f, nucleus.WithAlpha(170), 0.002f);
            foreach (var g in Scatter(random, 9, 0.09f, 0.05f, 0.05f, 0.95f, 0.95f))
            {
                var r = random.Uniform(0.075, 0.1);
                s.Circle(g.X, g.Y, r, cytoplasm, 0.004f);
                s.Circle(g.X, g.Y, r * 0.45f, lumen, 0.004f);
                for (var k = 0; k < 16; k++)
                {
                    var a = k / 16f * 360;
                    var rad = a * MathF.PI / 180;
                    s.RotatedOval(g.X + MathF.Cos(rad) * r * 0.78f, g.Y + MathF.Sin(rad) * r * 0.78f, 0.014f, 0.006f, a, nucleus, 0.002f);
                }
            }
        }
        if (record.IsNormal) return;
        var large = record.Size == "large";
        var regionR = large ? 0.2f : 0.12f;
        var x = (record.Laterality == "left" ? 0.3f : 0.7f) + random.Uniform(-0.04, 0.04);
        var y = (record.Level == "upper" ? 0.3f : 0.7f) + random.Uniform(-0.04, 0.04);
        // The region's position is in image coordinates, so undo the jitter's rotation for it.
        s.Canvas.ResetMatrix();
        s.Canvas.Scale(s.Size, s.Size);
        switch (record.Finding)
        {
            case "carcinoma":
                s.Circle(x, y, regionR, Shade(cytoplasm, -25), regionR * 0.15f);
                var malignant = record.Appearance == "ihc" ? positive : Shade(nucleus, -15);
                for (var i = 0; i < (large ? 110 : 45); i++)
                {
                    var a = random.Uniform(0, 2 * Math.PI);
                    var d = regionR * MathF.Sqrt(random.Uniform(0, 1));
                    s.RotatedOval(x + MathF.Cos(a) * d, y + MathF.Sin(a) * d, random.Uniform(0.016, 0.026), random.Uniform(0.012, 0.02), random.Uniform(0, 180), malignant, 0.002f);
                }
                break;
            case "inflammation":
                for (var i = 0; i < (large ? 420 : 160); i++)
                {
                    var a = random.Uniform(0, 2 * Math.PI);
                    var d = regionR * MathF.Sqrt(random.Uniform(0, 1));
                    s.Circle(x + MathF.Cos(a) * d, y + MathF.Sin(a) * d, 0.008f, Shade(nucleus, -30), 0.001f);
                }
                break;
            case "necrosis":
                s.Circle(x, y, regionR, Shade(stroma, 35), regionR * 0.12f);
                for (var i = 0; i < 40; i++)
                {
                    var a = random.Uniform(0, 2 * Math.PI);
                    var d = regionR * 0.9f * MathF.Sqrt(random.Uniform(0, 1));
                    s.Circle(x + MathF.Cos(a) * d, y + MathF.Sin(a) * d, 0.004f, nucleus.WithAlpha(150), 0.001f);
                }
                break;
            case "granuloma":
                var r = large ? 0.1f : 0.07f;
                foreach (var p in Scatter(random, record.Count, r, 0.15f, 0.15f, 0.85f, 0.85f))
                {
                    s.Circle(p.X, p.Y, r, Shade(cytoplasm, 20), 0.004f);
                    for (var k = 0; k < 22; k++)
                    {
                        var a = k / 22f * 360;
                        var rad = a * MathF.PI / 180;
                        s.RotatedOval(p.X + MathF.Cos(rad) * r * 0.9f, p.Y + MathF.Sin(rad) * r * 0.9f, 0.012f, 0.005f, a + 90, nucleus, 0.001f);
                    }
                    s.Circle(p.X, p.Y, r * 0.35f, Shade(cytoplasm, -10), 0.003f); // giant cell
                    for (var k = 0; k < 8; k++)
                        s.Circle(p.X + MathF.Cos(k * 0.785f) * r * 0.25f, p.Y + MathF.Sin(k * 0.785f) * r * 0.25f, 0.007f, nucleus, 0.001f);
                }
                break;
        }
    }

    static void Gross(SkiaSketch s, FindingRecord record, Random random)
    {
        SKColor[] drapes = [new(38, 96, 108), new(26, 26, 30), new(200, 200, 196), new(60, 110, 70)];
        s.Clear(Shade(random.Pick(drapes), random.Next(-10, 11)));
        // Ruler along the bottom edge.
        s.Rect(0.06f, 0.885f, 0.94f, 0.955f, new SKColor(232, 230, 218));
        for (var i = 0; i <= 40; i++)
            s.Line(0.08f + i * 0.021f, 0.885f, 0.08f + i * 0.021f, i % 5 == 0 ? 0.925f : 0.905f, 0.003f, new SKColor(20, 20, 20));
        var organColour = Shade(record.Anatomy switch
        {
            "kidney" => new SKColor(150, 72, 62),
            "liver" => new SKColor(122, 58, 40),
            _ => new SKColor(104, 42, 72),
        }, random.Next(-12, 13));
        s.Canvas.Save();
        s.Jitter(random, 6, 0.02f, 0.04f);
        using var organ = new SKPath();
        switch (record.Anatomy)
        {
            case "kidney":
                organ.AddOval(SKRect.Create(0.5f - 0.21f, 0.45f - 0.34f, 0.42f, 0.68f));
                using (var hilum = new SKPath())
                {
                    hilum.AddCircle(0.74f, 0.45f, 0.08f);
                    using var bean = organ.Op(hilum, SKPathOp.Difference);
                    organ.Reset();
                    organ.AddPath(bean);
                }
                break;
            case "liver":
                using (var wedge = Polygon((0.1f, 0.22f), (0.9f, 0.16f), (0.78f, 0.45f), (0.5f, 0.8f), (0.18f, 0.62f)))
                using (var corner = SKPathEffect.CreateCorner(0.12f))
                using (var paint = new SKPaint { PathEffect = corner })
                    paint.GetFillPath(wedge, organ);
                break;
            default:
                organ.AddOval(SKRect.Create(0.5f - 0.32f, 0.45f - 0.23f, 0.64f, 0.46f));
                organ.Transform(SKMatrix.CreateRotationDegrees(-15, 0.5f, 0.45f));
                break;
        }
        s.Path(organ, Shade(organColour, -30), 0.012f); // shadow edge
        s.Path(organ, organColour, 0.004f);
        s.Clipped(organ, () =>
        {
            for (var i = 0; i < 50; i++)
                s.Circle(random.Uniform(0.1, 0.9), random.Uniform(0.05, 0.85), random.Uniform(0.01, 0.04),
                         Shade(organColour, random.Next(-25, 26)).WithAlpha(110), 0.01f);
            for (var i = 0; i < 3; i++)
                s.RotatedOval(random.Uniform(0.3, 0.7), random.Uniform(0.25, 0.65), random.Uniform(0.02, 0.05), 0.01f,
                              random.Uniform(0, 180), new SKColor(255, 255, 255, 90), 0.006f); // glare
            if (!record.IsNormal) GrossLesion(s, record, random);
        });
        s.Canvas.Restore();
    }

    static void GrossLesion(SkiaSketch s, FindingRecord record, Random random)
    {
        var large = record.Size == "large";
        var r = large ? 0.1f : 0.06f;
        var x = (record.Laterality == "left" ? 0.38f : 0.62f) + random.Uniform(-0.02, 0.02);
        var y = (record.Level == "upper" ? 0.3f : 0.6f) + random.Uniform(-0.02, 0.02);
        switch (record.Finding)
        {
            case "tumor":
                var tan = new SKColor(226, 214, 184);
                for (var i = 0; i < 6; i++)
                    s.Circle(x + random.Uniform(-r * 0.4, r * 0.4), y + random.Uniform(-r * 0.4, r * 0.4), r * random.Uniform(0.6, 0.8), tan, 0.004f);
                s.Circle(x, y, r * 0.3f, Shade(tan, -25), 0.01f);
                break;
            case "cyst":
                var offsets = record.Count == 2 ? new[] { -0.6f, 0.6f } : [0f];
                foreach (var o in offsets)
                {
                    var cr = record.Count == 2 ? r * 0.7f : r;
                    s.Circle(x, y + o * r, cr, new SKColor(222, 200, 112), 0.004f);
                    s.Ring(x, y + o * r, cr, 0.008f, new SKColor(246, 236, 190), 0.002f);
                    s.Circle(x - cr * 0.35f, y + o * r - cr * 0.35f, cr * 0.2f, new SKColor(255, 252, 230, 180), 0.004f);
                }
                break;
            case "hemorrhage":
                for (var i = 0; i < 7; i++)
                    s.Circle(x + random.Uniform(-r * 0.5, r * 0.5), y + random.Uniform(-r * 0.5, r * 0.5), r * random.Uniform(0.45, 0.7), new SKColor(72, 10, 16), 0.006f);
                break;
        }
    }
}
