using Scheduler.Silo.Models;

namespace Scheduler.Tests.Silo.Models;

public sealed class PromptRunsTests
{
    [Theory]
    [InlineData("", 0)]
    [InlineData("hello world", 5)]
    [InlineData("abc123!!!!", 4)]
    [InlineData("     x", 5)]
    [InlineData("日本語のテキスト", 8)]
    [InlineData("e\u0301\u0301\u0301x", 3)]
    public void Longest_CountsTheLongestRunOfOneCharacterClass(string text, int expected) =>
        Assert.Equal(expected, PromptRuns.Longest(text));

    [Fact]
    public void Longest_OfAHugeWordInOrdinaryText_IsTheWord() =>
        Assert.Equal(900_000, PromptRuns.Longest("a " + new string('x', 900_000) + " b"));
}
