using Scheduler.Protos.Settings;

namespace Scheduler.Tests.Protos.Settings;

public sealed class KnownSettingsTests
{
    private sealed class Item
    {
        public string Name { get; set; } = "";

        public int Count { get; set; }

        public TimeSpan Every { get; set; }

        public double? Price { get; set; }
    }

    private sealed class Root
    {
        public int Port { get; set; }

        public bool Enabled { get; set; }

        public List<Item> Items { get; set; } = [];

        public string[] Keys { get; set; } = [];

        public Dictionary<string, Item> Named { get; set; } = [];
    }

    private static readonly KnownSettings Known = new([("App", typeof(Root))]);

    [Theory]
    [InlineData("App:Items:0:Count", "abc", "System.Int32")] // the binder drops the whole item without a word
    [InlineData("App:Items:3:Every", "5 minutes", "System.TimeSpan")]
    [InlineData("App:Named:gpu:Price", "cheap", "System.Nullable`1[System.Double]")]
    [InlineData("App:Port", "99999999999", "System.Int32")]
    [InlineData("App:Enabled", "yes", "System.Boolean")]
    public void Unconvertible_NamesTheKeyTheValueAndTheType(string key, string value, string type)
    {
        var refusal = Known.Unconvertible([new(key, value), new("App:Items:0:Name", "fine")]);

        Assert.Equal($"Failed to convert configuration value '{value}' at '{key}' to type '{type}'.", refusal);
    }

    [Fact]
    public void Unconvertible_EveryValueConverts_IsNull()
    {
        Assert.Null(Known.Unconvertible([
            new("App:Port", "5000"), new("App:Enabled", "TRUE"), new("App:Items:0:Count", "3"), new("App:Items:0:Every", "00:00:05"),
            new("App:Keys:0", "anything"), new("App:Named:x:Price", "1.5"), new("App:Items:1:Count", ""), new("App:Unknown", "abc")]));
    }

    [Fact]
    public void Unknown_ListsKeysNoSettingIs_WithTheNearestKnownKey()
    {
        var unknown = Known.Unknown([
            new("App", null), new("App:Prot", "1"), new("App:Items:2:Cuont", "1"), new("App:Items:2:Count", "1"), new("App:Named:a:Name", "x"),
            new("App:Keys:4", "k"), new("App:Zzzzzzzz", "1")]);

        Assert.Equal([("App:Items:2:Cuont", "App:Items:2:Count"), ("App:Prot", "App:Port"), ("App:Zzzzzzzz", null)], unknown);
    }
}
