using LlavaMed.Data;
using LlavaMed.Evaluation;
using LlavaMed.Text;

namespace LlavaMed.Tests.Evaluation;

static class ReportTestData
{
    public static LlavaSample Question(string id, string question, string answer, string answerType, string? image = null) =>
        new(id, image ?? $"{id}.png",
            [new ConversationTurn(ConversationTurn.HumanSpeaker, $"<image>\n{question}"),
             new ConversationTurn(ConversationTurn.GptSpeaker, answer)],
            answerType);

    public static AnswerRecord Answer(string id, string text) => new(id, "", text, $"a{id}", "test-model");
}
