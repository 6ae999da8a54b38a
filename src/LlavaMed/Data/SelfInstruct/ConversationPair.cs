namespace LlavaMed.Data.SelfInstruct;

/// <summary>One question of the User and the Assistant's answer in a generated conversation.</summary>
public sealed record ConversationPair(string Question, string Answer);
