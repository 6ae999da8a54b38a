namespace LlavaMed.Text;

public enum ChatRole { User, Assistant }

/// <summary>One message for prompt rendering. Null or empty <paramref name="Content"/> is an open turn (the model is
/// to write it), rendered as the role header only.</summary>
public sealed record ChatMessage(ChatRole Role, string? Content)
{
    public static ChatMessage User(string content) => new(ChatRole.User, content);
    public static ChatMessage Assistant(string? content) => new(ChatRole.Assistant, content);
}

/// <summary>One entry of a LLaVA training record's <c>conversations</c> list: <c>{"from": "human"|"gpt", "value"}</c>.</summary>
public sealed record ConversationTurn(string From, string Value)
{
    public const string HumanSpeaker = "human";
    public const string GptSpeaker = "gpt";

    public static ConversationTurn Human(string value) => new(HumanSpeaker, value);
    public static ConversationTurn Gpt(string value) => new(GptSpeaker, value);
}

/// <summary>How LLaVA's <c>Conversation.get_prompt</c> joins turns (its <c>SeparatorStyle</c>).</summary>
public enum SeparatorStyle
{
    /// <summary><c>system###Role: text###Role:</c> (v0 / LLaVA-Med v1.0).</summary>
    Single,
    /// <summary><c>system ROLE: q ROLE: a&lt;/s&gt;</c> (Vicuna v1).</summary>
    Two,
    /// <summary><c>[INST] q [/INST] a &lt;/s&gt;</c> with the system prompt inside the first instruction.</summary>
    Llama2,
    /// <summary>Stage-1 pretraining: image then caption, no roles.</summary>
    Plain,
}

/// <summary>Why a training example's labels are all ignored.</summary>
/// <param name="LabelledLength">Where the round arithmetic ended (LLaVA's <c>cur_len</c>).</param>
/// <param name="TokenCount">Non-padding tokens in the input (LLaVA's <c>total_len</c>).</param>
public sealed record TokenizationMismatch(int LabelledLength, int TokenCount);
