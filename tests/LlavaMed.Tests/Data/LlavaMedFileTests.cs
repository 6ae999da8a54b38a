using LlavaMed.Data;
using LlavaMed.Text;

namespace LlavaMed.Tests.Data;

/// <summary>The released LLaVA-Med files, on small files in their real shapes (records copied in shape from
/// microsoft/LLaVA-Med: instruct_postprocess.py's output, the QA50 JSONL, the caption file the generator reads).</summary>
public sealed class LlavaMedFileTests : TemporaryFolder
{
    // An instruction-tuning record (llava_med_instruct_60k_inline_mention.json) and an alignment record
    // (llava_med_alignment_500k.json) whose key is spelled "conversatons", as in places in the released files.
    const string InstructAndAlignment = """
        [
          {
            "id": "17506892_F1",
            "image": "17506892_F1.jpg",
            "domain": {"chest_xray": false, "mri": true, "ct_scan": false, "histology": false, "gross": false},
            "conversations": [
              {"from": "human", "value": "<image>\nWhat type of imaging is shown?"},
              {"from": "gpt", "value": "These are T1-weighted MRI maps of hypoperfusion."},
              {"from": "human", "value": "How many patient subgroups are shown?"},
              {"from": "gpt", "value": "Five rows, one per subgroup."}
            ]
          },
          {
            "id": "PMC1064078_F1",
            "image": "PMC1064078_F1.jpg",
            "conversatons": [
              {"from": "human", "value": "Give a brief description of the image.\n<image>"},
              {"from": "gpt", "value": "Histology of the lesion (H&E)."}
            ]
          }
        ]
        """;

    [Fact]
    public void ConversationArrayKeepsDomainsAndTheConversatonsSpelling()
    {
        var path = Write("instruct.json", InstructAndAlignment);
        var (samples, report) = LlavaMedFiles.ReadConversations(path).ReadAll();
        Assert.Equal(2, samples.Count);
        Assert.Equal(4, samples[0].Conversations.Count);
        Assert.Equal(ImageDomains.Mri, samples[0].Domains());
        Assert.Equal("PMC1064078_F1.jpg", samples[1].Image);
        Assert.Equal("Histology of the lesion (H&E).", samples[1].Answer);
        Assert.Equal(ImageDomains.None, samples[1].Domains());
        Assert.Equal((2, 2, 0), (report.Read, report.Accepted, report.Skipped));
    }

    [Fact]
    public void ConversationLinesAreReadFromJsonl()
    {
        var path = Write("train.jsonl", """
            {"id": "a", "image": "a.jpg", "conversations": [{"from": "human", "value": "<image>\nQ1"}, {"from": "gpt", "value": "A1"}]}

            {"id": 7, "conversations": [{"from": "human", "value": "Text only"}, {"from": "gpt", "value": "Yes"}]}
            """);
        var samples = LlavaMedFiles.ReadConversations(path).ToList();
        Assert.Equal(["a", "7"], samples.Select(s => s.Id));
        Assert.Equal("Q1", samples[0].Question);
        Assert.Null(samples[1].Image);
    }

    [Fact]
    public void UnknownDomainFlagIsAnError()
    {
        var sample = LlavaSample.FromJson(System.Text.Json.Nodes.JsonNode.Parse("""
            {"id": "x", "domain": {"ultrasound": true}, "conversations": [{"from": "human", "value": "q"}]}
            """), "f.json", "[0]");
        var error = Assert.Throws<DataFormatException>(() => sample.Domains());
        Assert.Contains("unknown domain 'ultrasound'", error.Message);
    }

    [Fact]
    public void FigureCaptionsAreAnObjectOfDomainGroups()
    {
        // llava_med_instruct_fig_captions.json: instruct_generate.py iterates domain_dict.values(), each a list.
        var path = Write("fig_captions.json", """
            {
              "chest_xray": [
                {"pair_id": "32581849_F1", "fig_label": "Figure 1", "fig_caption": "Chest X-ray showing bilateral infiltrates.",
                 "in_text_mention": [{"tokens": "The chest radiograph ( Figure 1 ) showed infiltrates .", "entities": []}],
                 "domain": {"chest_xray": true, "mri": false, "ct_scan": false, "histology": false, "gross": false}}
              ],
              "histology": [
                {"pair_id": "18063892_F3", "fig_label": "Fig. 3", "fig_caption": "Cystic wall lined by cuboidal epithelium.",
                 "in_text_mention": null,
                 "domain": {"chest_xray": false, "mri": false, "ct_scan": false, "histology": true, "gross": true}},
                {"pair_id": "18318598_g001", "fig_caption": "PAS/Alcian blue stained sections.",
                 "in_text_mention": ["Goblet cells were fewer ( Figure 1 ) ."],
                 "domain": {"chest_xray": false, "mri": false, "ct_scan": false, "histology": true, "gross": false}}
              ]
            }
            """);
        var captions = LlavaMedFiles.ReadFigureCaptions(path).ToList();
        Assert.Equal(["chest_xray", "histology", "histology"], captions.Select(c => c.DomainGroup));
        Assert.Equal("32581849_F1.jpg", captions[0].Image);
        Assert.Equal(["The chest radiograph ( Figure 1 ) showed infiltrates ."], captions[0].InTextMentions);
        Assert.Empty(captions[1].InTextMentions);
        Assert.Equal(ImageDomains.Histology | ImageDomains.Gross, captions[1].Domains);
        Assert.Null(captions[2].FigLabel);
        Assert.Equal(["Goblet cells were fewer ( Figure 1 ) ."], captions[2].InTextMentions);
    }

    [Fact]
    public void FigureCaptionErrorsNameTheGroupAndIndex()
    {
        var path = Write("fig_captions.json", """
            {"mri": [
              {"pair_id": "1_F1", "fig_caption": "ok", "domain": {"mri": true}},
              {"pair_id": "1_F2", "domain": {"mri": true}}
            ]}
            """);
        var error = Assert.Throws<DataFormatException>(() => LlavaMedFiles.ReadFigureCaptions(path).ToList());
        Assert.Equal("mri[1] (line 3)", error.Location);
        Assert.Contains("missing 'fig_caption'", error.Message);
    }

    [Fact]
    public void Qa50QuestionsAreReadFromJsonl()
    {
        var path = Write("llava_med_eval_qa50_qa.jsonl", """
            {"question_id": 0, "image": "18063892_F3.jpg", "pair_id": "18063892_F3", "text": "What is the organ in the image?\n<image>", "gpt4_answer": "The conjunctiva.", "fig_caption": "The gross histopathologic finding disclosed the portion of conjunctiva.", "in_text_mention": [{"tokens": "Inflammatory cells were not found ( Fig. 3 , 4 , 5 ) .", "entities": [{"type": "figure", "entity_id": "3", "start_tok": 9, "end_tok": 11}]}], "domain": {"chest_xray": false, "mri": false, "ct_scan": false, "histology": true, "gross": true}, "type": "conversation", "fig_label": "Fig. 3"}
            {"question_id": 1, "image": "18652673_F3.jpg", "pair_id": "18652673_F3", "text": "<image>\nDescribe the image concisely.", "gpt4_answer": "SPECT images.", "fig_caption": "SPECT images from a depressed patient.", "in_text_mention": [], "domain": {"chest_xray": false, "mri": false, "ct_scan": true, "histology": false, "gross": false}, "type": "detailed", "fig_label": "Figure 3"}
            """);
        var questions = LlavaMedFiles.ReadQa50(path).ToList();
        Assert.Equal(2, questions.Count);
        Assert.Equal("What is the organ in the image?", questions[0].Question);
        Assert.Equal(["Inflammatory cells were not found ( Fig. 3 , 4 , 5 ) ."], questions[0].InTextMentions);
        Assert.Equal(ImageDomains.CtScan, questions[1].Domains);
        Assert.Equal("detailed", questions[1].Type);
    }

    [Fact]
    public void DownstreamRecordHasTheImageMarkerAndOptionalClosedOptions()
    {
        var closed = new VqaItem("11", "synpic42202.jpg", "Is there evidence of an aortic aneurysm?", "yes", VqaAnswerTypes.Closed);
        var notYesNo = closed with { Question = "Which side?", Answer = "Left" };
        var open = new VqaItem("20", "synpic29265.jpg", "How is the patient oriented?", "Posterior-Anterior", VqaAnswerTypes.Open);
        Assert.Equal("<image>\nIs there evidence of an aortic aneurysm? Please choose from the following two options: [yes, no]",
                     DownstreamFormat.ToSample(closed, closedOptions: true).Conversations[0].Value);
        Assert.Equal("<image>\nIs there evidence of an aortic aneurysm?", DownstreamFormat.ToSample(closed, closedOptions: false).Conversations[0].Value);
        Assert.Equal("<image>\nWhich side?", DownstreamFormat.ToSample(notYesNo, closedOptions: true).Conversations[0].Value);
        var sample = DownstreamFormat.ToSample(open, closedOptions: true);
        Assert.Equal("<image>\nHow is the patient oriented?", sample.Conversations[0].Value);
        Assert.Equal([ConversationTurn.HumanSpeaker, ConversationTurn.GptSpeaker], sample.Conversations.Select(t => t.From));
        var json = sample.ToJson();
        Assert.Equal(["id", "image", "answer_type", "conversations"], json.Select(p => p.Key));
        Assert.Equal("OPEN", (string?)json["answer_type"]);
    }
}
