using Scheduler.Protos.V1;
using Scheduler.Silo.OpenAi;

namespace Scheduler.Tests.Silo.OpenAi;

public sealed class StopTextFilterTests
{
    [Fact]
    public void Streamed_StopTextSplitAcrossPieces_IsHeldBack_ThenCut()
    {
        var filter = new StopTextFilter(["END"]);

        Assert.Equal("Hello ", filter.Push("Hello E"));
        Assert.Equal("", filter.Push("N"));
        Assert.False(filter.Stopped);
        Assert.Equal("", filter.Push("D and more"));
        Assert.True(filter.Stopped);
        Assert.Equal("", filter.Push(" later"));
        Assert.Equal("", filter.End());
    }

    [Fact]
    public void StopTextInsideOneToken_WithTextAfterIt_IsCutBeforeIt()
    {
        var filter = new StopTextFilter(["ach"]);

        Assert.Equal(" ready for price price ", filter.Push(" ready for price price a"));   // "a" may start "ach"
        Assert.Equal("a c", filter.Push(" cache"));
        Assert.True(filter.Stopped);

        Assert.Equal(" ready for price price a c", new StopTextFilter(["ach"]).Whole(" ready for price price a cache"));
    }

    [Fact]
    public void TwoStopTexts_TheEarliestOccurrenceWins()
    {
        Assert.Equal("one ", new StopTextFilter(["three", "two"]).Whole("one two three"));

        var streamed = new StopTextFilter(["three", "two"]);
        Assert.Equal("one ", streamed.Push("one tw") + streamed.Push("o thr") + streamed.Push("ee"));
        Assert.True(streamed.Stopped);
    }

    [Fact]
    public void NoStopTextFound_TheWholeTextIsKept()
    {
        var filter = new StopTextFilter(["zzz"]);

        Assert.Equal("a quiet answer", filter.Whole("a quiet answer"));
        Assert.False(filter.Stopped);
    }

    [Fact]
    public void NoStopTexts_EveryPieceGoesOutAsItCame()
    {
        var filter = StopTextFilter.For(new SubmitJobRequest());

        Assert.Equal("ab", filter.Push("ab"));
        Assert.Equal("", filter.End());
    }

    [Fact]
    public void HeldBackPrefix_ThatTurnsOutNotToBeAStopText_IsFlushed()
    {
        var filter = new StopTextFilter(["END"]);

        Assert.Equal("the ", filter.Push("the EN"));
        Assert.Equal("ENTRANCE hall", filter.Push("TRANCE hall"));
        Assert.Equal(" is ", filter.Push(" is E"));
        Assert.Equal("E", filter.Push("E"));   // "EE" does not start "END"; the last "E" still may
        Assert.Equal("E", filter.End());
        Assert.False(filter.Stopped);
    }

    [Fact]
    public void End_OfAJobThatDidNotStop_SendsTheHeldBackText()
    {
        var filter = new StopTextFilter(["\n\nUser:"]);

        Assert.Equal("last words", filter.Push("last words\n\nUs"));
        Assert.Equal("\n\nUs", filter.End());
        Assert.Equal("", filter.End());
    }

    [Fact]
    public void For_ReadsStopAndStopSequences()
    {
        var filter = StopTextFilter.For(new SubmitJobRequest { Stop = "x", StopSequences = { "yy" } });

        Assert.Equal("a", filter.Whole("ayyx"));
        Assert.Equal("b", StopTextFilter.For(new SubmitJobRequest { Stop = "x", StopSequences = { "yy" } }).Whole("bxyy"));
    }
}
