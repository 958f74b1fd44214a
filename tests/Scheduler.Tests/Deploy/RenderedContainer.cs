using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Scheduler.Tests.Deploy;

/// <summary>
/// What the kubelet would hand one container of a rendered workload: its environment (literal values, ConfigMap and
/// Secret keys, the downward API's pod name, namespace and IP, <c>envFrom</c>, and <c>$(VAR)</c> references expanded
/// as Kubernetes does), its command and args, and the files its ConfigMap and Secret volumes mount.
/// </summary>
/// <param name="Environment">The variables in the manifest's order.</param>
/// <param name="Command">The container's <c>command</c> (the image's entrypoint when empty).</param>
/// <param name="Args">The container's <c>args</c>.</param>
/// <param name="Files">Mounted files by their path in the container.</param>
internal sealed partial record RenderedContainer(
    IReadOnlyList<KeyValuePair<string, string>> Environment,
    IReadOnlyList<string> Command,
    IReadOnlyList<string> Args,
    IReadOnlyDictionary<string, string> Files)
{
    /// <summary>Reads container <paramref name="containerName"/> of <paramref name="workload"/> (a Deployment or
    /// StatefulSet) as it would run in pod <paramref name="podName"/> at <paramref name="podIp"/>.</summary>
    public static RenderedContainer Read(RenderedManifests manifests, YamlMappingNode workload, string containerName, string podName, string podIp)
    {
        var workloadName = RenderedManifests.Scalar(workload, "metadata", "name");
        var pod = RenderedManifests.Child(workload, "spec", "template", "spec")
            ?? throw new InvalidOperationException($"{workloadName} has no pod template");
        var container = Items(pod, "containers").SingleOrDefault(c => RenderedManifests.Scalar(c, "name") == containerName)
            ?? throw new InvalidOperationException($"{workloadName} has no container {containerName}");
        var fields = new Dictionary<string, string>
        {
            ["metadata.name"] = podName,
            ["metadata.namespace"] = RenderedManifests.Scalar(workload, "metadata", "namespace") ?? "default",
            ["status.podIP"] = podIp,
        };

        var environment = new List<KeyValuePair<string, string>>();
        foreach (var source in Items(container, "envFrom"))
        {
            var prefix = RenderedManifests.Scalar(source, "prefix") ?? "";
            var (kind, reference) = RenderedManifests.Child(source, "secretRef") is { } secret ? ("Secret", secret) : ("ConfigMap", RenderedManifests.Child(source, "configMapRef")!);
            foreach (var (key, value) in manifests.AllValues(kind, RenderedManifests.Scalar(reference, "name")!))
            {
                Set(environment, prefix + key, value);
            }
        }

        foreach (var variable in Items(container, "env"))
        {
            var name = RenderedManifests.Scalar(variable, "name")!;
            var value = RenderedManifests.Scalar(variable, "value") is { } literal
                ? Expand(literal, environment)
                : ValueFrom(manifests, RenderedManifests.Child(variable, "valueFrom") ?? throw new InvalidOperationException($"env {name} has neither value nor valueFrom"), fields, name);
            Set(environment, name, value);
        }

        var files = new Dictionary<string, string>();
        var volumes = Items(pod, "volumes").ToDictionary(v => RenderedManifests.Scalar(v, "name")!);
        foreach (var mount in Items(container, "volumeMounts"))
        {
            var volume = volumes[RenderedManifests.Scalar(mount, "name")!];
            var (kind, name) = RenderedManifests.Child(volume, "configMap") is { } configMap ? ("ConfigMap", RenderedManifests.Scalar(configMap, "name"))
                : RenderedManifests.Child(volume, "secret") is { } secret ? ("Secret", RenderedManifests.Scalar(secret, "secretName"))
                : (null, null);
            if (kind is null)
            {
                continue; // emptyDir, a claim: no content the manifests decide.
            }

            var mountPath = RenderedManifests.Scalar(mount, "mountPath")!;
            var values = manifests.AllValues(kind, name!);
            if (RenderedManifests.Scalar(mount, "subPath") is { } subPath)
            {
                files[mountPath] = values[subPath];
            }
            else
            {
                // A volume's items pick keys and name their files; without items every key is a file named after it.
                var items = Items(RenderedManifests.Child(volume, kind == "Secret" ? "secret" : "configMap")!, "items")
                    .Select(i => (Key: RenderedManifests.Scalar(i, "key")!, Path: RenderedManifests.Scalar(i, "path")!))
                    .ToList();
                foreach (var (key, path) in items.Count > 0 ? items : values.Keys.Select(k => (Key: k, Path: k)))
                {
                    files[$"{mountPath.TrimEnd('/')}/{path}"] = values[key];
                }
            }
        }

        return new RenderedContainer(
            environment,
            [.. Items(container, "command").Select(c => Expand(((YamlScalarNode)c).Value!, environment))],
            [.. Items(container, "args").Select(a => Expand(((YamlScalarNode)a).Value!, environment))],
            files);
    }

    /// <summary>The value of <paramref name="name"/>, or null when the manifests do not set it.</summary>
    public string? Get(string name) => Environment.LastOrDefault(e => e.Key == name).Value;

    private static string ValueFrom(RenderedManifests manifests, YamlNode valueFrom, Dictionary<string, string> fields, string name)
    {
        if (RenderedManifests.Child(valueFrom, "secretKeyRef") is { } secret)
        {
            return manifests.SecretValue(RenderedManifests.Scalar(secret, "name")!, RenderedManifests.Scalar(secret, "key")!);
        }

        if (RenderedManifests.Child(valueFrom, "configMapKeyRef") is { } configMap)
        {
            return manifests.ConfigMapValue(RenderedManifests.Scalar(configMap, "name")!, RenderedManifests.Scalar(configMap, "key")!);
        }

        var field = RenderedManifests.Scalar(valueFrom, "fieldRef", "fieldPath")
            ?? throw new NotSupportedException($"env {name}: only secretKeyRef, configMapKeyRef and fieldRef are resolved here");
        return fields.TryGetValue(field, out var value) ? value : throw new NotSupportedException($"env {name}: fieldRef {field} has no loopback value here");
    }

    /// <summary>Kubernetes' expansion: <c>$(NAME)</c> of a variable defined before becomes its value, <c>$$</c> a
    /// literal <c>$</c>; a reference to an undefined variable stays as written.</summary>
    private static string Expand(string text, List<KeyValuePair<string, string>> defined) =>
        Reference().Replace(text, match => match.Value == "$$" ? "$"
            : defined.LastOrDefault(e => e.Key == match.Groups[1].Value) is { Key: not null } found ? found.Value
            : match.Value);

    private static void Set(List<KeyValuePair<string, string>> environment, string name, string value)
    {
        environment.RemoveAll(e => e.Key == name);
        environment.Add(new(name, value));
    }

    private static IEnumerable<YamlNode> Items(YamlNode node, string key) =>
        (RenderedManifests.Child(node, key) as YamlSequenceNode)?.Children ?? [];

    [GeneratedRegex(@"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")]
    private static partial Regex Reference();
}
