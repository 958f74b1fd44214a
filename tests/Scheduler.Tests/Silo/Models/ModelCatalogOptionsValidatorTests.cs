using Scheduler.Silo.Models;

namespace Scheduler.Tests.Silo.Models;

public sealed class ModelCatalogOptionsValidatorTests
{
    [Fact]
    public void Validate_AcceptsTheShippedDefaults()
    {
        var result = Validate(new ModelOptions { Name = "llama-3.1-8b", MaxContextTokens = 131072, ChatTemplate = "llama3" });

        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Fact]
    public void Validate_AcceptsAContextSmallerThanTheOutputCap_TheContextBindsFirst()
    {
        // A small GGUF's 512-token context with the default 4,096 output cap: a job's prompt plus max_tokens must fit the
        // context anyway (JobRequestValidator), so the cap never binds; the tests' own models are configured so.
        Assert.True(Validate(new ModelOptions { Name = "tiny", MaxContextTokens = 512 }).Succeeded);
    }

    [Theory]
    [InlineData("MaxContextTokens", "Scheduler:Models:0:MaxContextTokens must be at least 1, not -5")]
    [InlineData("MaxOutputTokens", "Scheduler:Models:0:MaxOutputTokens must be at least 1, not -5")]
    [InlineData("DefaultTtftObjectiveMs", "Scheduler:Models:0:DefaultTtftObjectiveMs must be at least 1, not -5")]
    [InlineData("MaxPromptBytes", "Scheduler:Models:0:MaxPromptBytes must be at least 1, not -5")]
    public void Validate_RefusesANumberBelowOne_NamingItsKey(string property, string failure)
    {
        var model = new ModelOptions { Name = "m" };
        typeof(ModelOptions).GetProperty(property)!.SetValue(model, -5);

        Assert.Contains(failure, Validate(model).Failures!);
    }

    [Fact]
    public void Validate_RefusesANegativeVocabularySize_ZeroLeavesIdsUnchecked()
    {
        Assert.Contains(
            "Scheduler:Models:0:VocabularySize must be 0 (not checked) or the model's vocabulary size, not -1",
            Validate(new ModelOptions { Name = "m", VocabularySize = -1 }).Failures!);
        Assert.True(Validate(new ModelOptions { Name = "m", VocabularySize = 0 }).Succeeded);
    }

    [Fact]
    public void Validate_RefusesAnEmptyName_AndASecondEntryOfOneName()
    {
        var result = Validate(new ModelOptions { Name = "m" }, new ModelOptions { Name = " " }, new ModelOptions { Name = "m", MaxContextTokens = 512 });

        Assert.Equal(
            ["Scheduler:Models:1:Name must not be empty", "Scheduler:Models:2:Name 'm' is another entry's: a model is listed once"],
            result.Failures);
    }

    [Theory]
    [InlineData("nosuch")]
    [InlineData("p50k_base")] // a name the tokenizer library knows, whose data this silo does not ship
    public void Validate_RefusesATokenizerTheSiloHasNot(string tokenizer)
    {
        var result = Validate(new ModelOptions { Name = "m", Tokenizer = tokenizer });

        Assert.Equal([$"Scheduler:Models:0:Tokenizer '{tokenizer}' is not a tokenizer this silo has (it ships cl100k_base)"], result.Failures);
    }

    [Fact]
    public void Validate_RefusesAnUnknownChatTemplate_NamingTheKnownOnes()
    {
        var result = Validate(new ModelOptions { Name = "m", ChatTemplate = "vicuna" });

        Assert.Equal([$"Scheduler:Models:0:ChatTemplate 'vicuna' is not one of {string.Join(", ", ChatTemplate.Names)}"], result.Failures);
    }

    private static Microsoft.Extensions.Options.ValidateOptionsResult Validate(params ModelOptions[] models) =>
        new ModelCatalogOptionsValidator().Validate(null, new ModelCatalogOptions { Models = [.. models] });
}
