using Scheduler.Policies.Prefix;

namespace Scheduler.Tests.Policies.Prefix;

public sealed class PromptBlocksTests
{
    private const int BlockChars = PromptBlocks.DefaultBlockTokens * PromptBlocks.CharsPerToken;

    [Fact]
    public void FromText_EqualPrefixesGiveEqualHashes_UntilTheFirstDifferentBlock()
    {
        var shared = new string('s', 2 * BlockChars);
        var a = PromptBlocks.FromText(shared + new string('a', BlockChars) + "tail")!;
        var b = PromptBlocks.FromText(shared + new string('b', BlockChars))!;

        Assert.Equal(3, a.Count); // the partial "tail" is not a block
        Assert.Equal(a.Hashes.Take(2), b.Hashes.Take(2));
        Assert.NotEqual(a.Hashes[2], b.Hashes[2]);
    }

    [Fact]
    public void FromText_ChainsHashes_SoAnEqualBlockAfterADifferentOneDiffers()
    {
        var same = new string('x', BlockChars);
        var a = PromptBlocks.FromText(new string('a', BlockChars) + same)!;
        var b = PromptBlocks.FromText(new string('b', BlockChars) + same)!;

        Assert.NotEqual(a.Hashes[1], b.Hashes[1]);
    }

    [Fact]
    public void FromText_ShorterThanABlock_IsNull()
    {
        Assert.Null(PromptBlocks.FromText(new string('a', BlockChars - 1)));
        Assert.Null(PromptBlocks.FromText(null));
    }

    [Fact]
    public void FromTokenIds_AndFromBlockIds_CutIntoBlocks()
    {
        var ids = Enumerable.Range(0, (2 * PromptBlocks.DefaultBlockTokens) + 5).ToArray();
        var tokens = PromptBlocks.FromTokenIds(ids)!;
        Assert.Equal(2, tokens.Count);
        Assert.Equal(PromptBlocks.DefaultBlockTokens, tokens.BlockTokens);

        var trace = PromptBlocks.FromBlockIds([7, 8, 9])!;
        Assert.Equal(PromptBlocks.TraceBlockTokens, trace.BlockTokens);
        Assert.Equal(trace.Hashes.Take(2), PromptBlocks.FromBlockIds([7, 8])!.Hashes);
        Assert.NotEqual(trace.Hashes[1], PromptBlocks.FromBlockIds([6, 8])!.Hashes[1]);
        Assert.Null(PromptBlocks.FromBlockIds([]));
    }

    [Fact]
    public void CachedTokens_LeavesTheLastPromptTokenToCompute()
    {
        var blocks = PromptBlocks.FromBlockIds([1, 2])!;

        Assert.Equal(512, blocks.CachedTokens(1, 1_100));
        Assert.Equal(1_023, blocks.CachedTokens(2, 1_024));
        Assert.Equal(1_024, blocks.CachedTokens(5, 2_000)); // never more blocks than the prompt has
        Assert.Equal(0, blocks.CachedTokens(0, 2_000));
    }
}
