using System.Diagnostics;
using System.Text;
using Scheduler.Tests.EndToEnd;
using YamlDotNet.RepresentationModel;

namespace Scheduler.Tests.Deploy;

/// <summary>
/// The Kubernetes objects of a developer's deployment, as YAML: the chart rendered by <c>helm template</c> with
/// <c>helm/scheduler/examples/dev.yaml</c> when <c>deploy/helm.sh</c> yields a helm binary, otherwise the committed
/// <c>k8s/</c> files of the dev overlay (which CI proves equal to the chart's render) with the Secret its kustomization
/// generates. <see cref="Source"/> says which.
/// </summary>
internal sealed class RenderedManifests
{
    private static readonly TimeSpan HelmTimeout = TimeSpan.FromMinutes(3);

    private readonly IReadOnlyList<YamlMappingNode> _objects;

    private RenderedManifests(string source, IReadOnlyList<YamlMappingNode> objects)
    {
        Source = source;
        _objects = objects;
    }

    /// <summary>Where the objects came from, for the test's log.</summary>
    public string Source { get; }

    /// <summary>Renders the chart with helm, or reads k8s/ when no helm binary can be had (say why in <see cref="Source"/>).</summary>
    public static async Task<RenderedManifests> LoadAsync()
    {
        var (helm, why) = await FindHelm();
        if (helm is not null)
        {
            var values = Path.Combine("helm", "scheduler", "examples", "dev.yaml");
            var yaml = await RenderChart(helm, values);
            return new RenderedManifests($"helm template scheduler helm/scheduler -f {values} ({helm})", Parse(yaml));
        }

        string[] files = ["k8s/base/scheduler.yaml", "k8s/components/redis/redis.yaml", "k8s/overlays/dev/workers.yaml"];
        var objects = files.SelectMany(f => Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, f)))).ToList();
        objects.AddRange(GeneratedSecrets(Path.Combine(RepoPaths.Root, "k8s/overlays/dev/kustomization.yaml")));
        // The overlay's patches only set the silo replica count (replaced by the test anyway) and drop a budget.
        return new RenderedManifests($"the committed k8s/ dev overlay ({string.Join(", ", files)} and its secretGenerator; patches not applied); no helm: {why}", objects);
    }

    /// <summary>Renders the chart with one of its examples (<c>helm/scheduler/examples/</c>); needs helm.</summary>
    public static async Task<RenderedManifests> RenderExampleAsync(string example)
    {
        var (helm, why) = await FindHelm();
        var values = Path.Combine("helm", "scheduler", "examples", example);
        var yaml = await RenderChart(helm ?? throw new InvalidOperationException($"no helm to render {values} with: {why}"), values);
        return new RenderedManifests($"helm template scheduler helm/scheduler -f {values} ({helm})", Parse(yaml));
    }

    /// <summary>The one object of <paramref name="kind"/> named <paramref name="name"/>.</summary>
    public YamlMappingNode Get(string kind, string name) =>
        _objects.SingleOrDefault(o => Scalar(o, "kind") == kind && Scalar(o, "metadata", "name") == name)
            ?? throw new InvalidOperationException($"the rendered manifests hold no {kind} named {name} ({Source})");

    /// <summary>The objects of <paramref name="kind"/>.</summary>
    public IEnumerable<YamlMappingNode> All(string kind) => _objects.Where(o => Scalar(o, "kind") == kind);

    /// <summary>One key of a ConfigMap.</summary>
    public string ConfigMapValue(string name, string key) =>
        Scalar(Get("ConfigMap", name), "data", key) ?? throw new InvalidOperationException($"ConfigMap {name} has no key {key}");

    /// <summary>One key of a Secret: <c>stringData</c> as written, <c>data</c> decoded from base64.</summary>
    public string SecretValue(string name, string key)
    {
        var secret = Get("Secret", name);
        if (Scalar(secret, "stringData", key) is { } plain)
        {
            return plain;
        }

        return Scalar(secret, "data", key) is { } encoded
            ? Encoding.UTF8.GetString(Convert.FromBase64String(encoded))
            : throw new InvalidOperationException($"Secret {name} has no key {key}");
    }

    /// <summary>Every key of a ConfigMap or Secret (for envFrom).</summary>
    public IReadOnlyDictionary<string, string> AllValues(string kind, string name)
    {
        var source = Get(kind, name);
        var values = new Dictionary<string, string>();
        foreach (var section in kind == "Secret" ? new[] { "data", "stringData" } : ["data"])
        {
            if (Child(source, section) is YamlMappingNode map)
            {
                foreach (var key in map.Children.Keys.Cast<YamlScalarNode>().Select(k => k.Value!))
                {
                    values[key] = kind == "Secret" ? SecretValue(name, key) : ConfigMapValue(name, key);
                }
            }
        }

        return values;
    }

    /// <summary>The node at <paramref name="path"/> (mapping keys) below <paramref name="node"/>, or null.</summary>
    public static YamlNode? Child(YamlNode node, params string[] path)
    {
        foreach (var key in path)
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out var next))
            {
                return null;
            }

            node = next;
        }

        return node;
    }

    /// <summary>The scalar at <paramref name="path"/> below <paramref name="node"/>, or null.</summary>
    public static string? Scalar(YamlNode node, params string[] path) => (Child(node, path) as YamlScalarNode)?.Value;

    private static async Task<(string? Helm, string Why)> FindHelm()
    {
        var script = Path.Combine(RepoPaths.Root, "deploy", "helm.sh");
        try
        {
            var (exit, output, error) = await Run("bash", [script], HelmTimeout, environment: null);
            var path = output.Trim();
            return exit == 0 && File.Exists(path) ? (path, "") : (null, $"deploy/helm.sh exited {exit}: {error.Trim()}");
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or TimeoutException)
        {
            return (null, $"deploy/helm.sh could not run: {ex.Message}");
        }
    }

    private static async Task<string> RenderChart(string helm, string values)
    {
        // Helm's cache and config in a folder of its own: nothing of the user's helm setup leaks in.
        var home = Directory.CreateTempSubdirectory("scheduler-helm-");
        try
        {
            var environment = new Dictionary<string, string>
            {
                ["HELM_CACHE_HOME"] = Path.Combine(home.FullName, "cache"),
                ["HELM_CONFIG_HOME"] = Path.Combine(home.FullName, "config"),
                ["HELM_DATA_HOME"] = Path.Combine(home.FullName, "data"),
            };
            var (exit, output, error) = await Run(
                helm, ["template", "scheduler", "helm/scheduler", "--namespace", "scheduler", "-f", values], HelmTimeout, environment);
            return exit == 0 ? output : throw new InvalidOperationException($"helm template failed ({exit}): {error}");
        }
        finally
        {
            home.Delete(recursive: true);
        }
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> Run(
        string fileName, IEnumerable<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment)
    {
        var info = new ProcessStartInfo(fileName) { WorkingDirectory = RepoPaths.Root };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        return BoundedProcess.RunAsync(info, timeout);
    }

    private static List<YamlMappingNode> Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return [.. stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>()];
    }

    /// <summary>The Secrets a kustomization's <c>secretGenerator</c> makes from literals. Kustomize would suffix their
    /// names with a hash and rewrite the references; read side by side with the unsuffixed references, the plain names
    /// resolve the same.</summary>
    private static IEnumerable<YamlMappingNode> GeneratedSecrets(string kustomization)
    {
        var root = Parse(File.ReadAllText(kustomization)).Single();
        foreach (var generator in (Child(root, "secretGenerator") as YamlSequenceNode)?.Children ?? [])
        {
            var stringData = new YamlMappingNode();
            foreach (var literal in ((Child(generator, "literals") as YamlSequenceNode)?.Children ?? []).Cast<YamlScalarNode>())
            {
                var (key, value) = (literal.Value!.Split('=', 2)[0], literal.Value.Split('=', 2)[1]);
                stringData.Add(key, value);
            }

            yield return new YamlMappingNode(
                new YamlScalarNode("kind"), new YamlScalarNode("Secret"),
                new YamlScalarNode("metadata"), new YamlMappingNode("name", Scalar(generator, "name")!),
                new YamlScalarNode("stringData"), stringData);
        }
    }
}
