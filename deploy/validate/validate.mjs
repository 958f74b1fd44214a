// Validates rendered Kubernetes manifests offline: every object against the Kubernetes API schemas that
// kubernetes-models ships (and the prometheus-operator and KEDA ones for ServiceMonitor, PrometheusRule and
// ScaledObject), plus the deployment rules this project holds itself to. The schemas catch wrong types and missing
// required fields, not unknown fields.
//
//   node validate.mjs rendered-1.yaml [rendered-2.yaml ...]
//
// Exits 1 when any object is invalid or any file holds no object.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

// apiVersion group → the package holding its models. Core ("v1") and the built-in groups live in kubernetes-models.
const packages = {
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
  "keda.sh": "@kubernetes-models/keda",
};

async function modelFor(apiVersion, kind) {
  const slash = apiVersion.lastIndexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const module = group === ""
    ? `kubernetes-models/${apiVersion}`
    : `${packages[group] ?? "kubernetes-models"}/${apiVersion}`;
  let models;
  try {
    models = await import(module);
  } catch {
    return undefined;
  }
  return models[kind];
}

// Secrets travel as Secrets: a ConfigMap naming a key or a password is a leak.
const secretInConfig = /"(AdminApiKey|NodeToken|ApiKey)"\s*:|password=/i;

// What the API server holds names and labels to (apimachinery's validation): it refuses an object that breaks them,
// so a render that only a long release name or an odd id pushes past a limit fails at install, not here.
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const labelName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

function nameProblems(object) {
  const name = object.metadata?.name ?? "";
  const problems = [];
  if (object.kind === "Service") {
    // A Service's name is a DNS label: its cluster DNS record.
    if (name.length > 63 || !dns1035Label.test(name)) problems.push(`Service name "${name}" (${name.length} characters) must be a DNS-1035 label of at most 63 characters`);
  } else if (name.length > 253 || !dns1123Subdomain.test(name)) {
    problems.push(`name "${name}" must be a DNS-1123 subdomain of at most 253 characters`);
  }

  // A StatefulSet's pods carry controller-revision-hash: <name>-<10 characters>, a label value of at most 63.
  if (object.kind === "StatefulSet" && name.length > 52) problems.push(`StatefulSet name "${name}" is longer than 52 characters: its pods' controller-revision-hash label would not fit`);
  return problems;
}

function labelProblems(where, labels) {
  const problems = [];
  for (const [key, value] of Object.entries(labels ?? {})) {
    const slash = key.lastIndexOf("/");
    const [prefix, name] = slash < 0 ? ["", key] : [key.slice(0, slash), key.slice(slash + 1)];
    if ((slash >= 0 && (prefix.length > 253 || !dns1123Subdomain.test(prefix))) || name.length > 63 || !labelName.test(name)) {
      problems.push(`${where}: label key "${key}" is not a valid label name`);
    }

    const text = value === null || value === undefined ? "" : String(value);
    if (typeof value !== "string" || text.length > 63 || !labelValue.test(text)) {
      problems.push(`${where}: label ${key}="${text}" must be a string of at most 63 characters, alphanumeric at both ends (- _ . inside)`);
    }
  }

  return problems;
}

// Every label set the API server checks: the object's, its pod template's and its selector's.
function allLabelProblems(object) {
  const spec = object.spec ?? {};
  return [
    ...labelProblems("metadata.labels", object.metadata?.labels),
    ...labelProblems("spec.template.metadata.labels", spec.template?.metadata?.labels),
    ...labelProblems("spec.selector.matchLabels", spec.selector?.matchLabels),
    ...(object.kind === "Service" ? labelProblems("spec.selector", spec.selector) : []),
  ];
}

// An image reference as the container runtime parses it: [domain[:port]/]path[:tag][@sha256:digest].
const imageReference = /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

function workloadProblems(object) {
  const spec = object.spec?.template?.spec;
  if (!spec) {
    return [];
  }

  const problems = [];
  for (const c of spec.containers ?? []) {
    const sc = c.securityContext ?? {};
    const where = `container ${c.name}`;
    if (!imageReference.test(c.image ?? "")) problems.push(`${where}: image "${c.image}" is not an image reference`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation must be false`);
    if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem must be true`);
    if (!(sc.capabilities?.drop ?? []).includes("ALL")) problems.push(`${where}: capabilities must drop ALL`);
    if (!c.resources?.requests) problems.push(`${where}: resources.requests missing`);
    if (!c.livenessProbe || !c.readinessProbe) problems.push(`${where}: liveness and readiness probes required`);
  }

  if (spec.securityContext?.runAsNonRoot !== true) problems.push("pod securityContext.runAsNonRoot must be true");
  return problems;
}

// An alert's selectors name the render's own objects: a service="…" matcher a Service of the render, a
// statefulset=~"…" matcher every StatefulSet of it (the worker pools). A selector that misses them never fires: the
// worker alert once matched "<fullname>-worker-.*", which the shortened names of long pools are not.
function alertSelectorProblems(rules, names) {
  const problems = [];
  for (const group of rules.spec?.groups ?? []) {
    for (const rule of group.rules ?? []) {
      const expr = rule.expr ?? "";
      for (const [, service] of expr.matchAll(/\bservice="([^"]*)"/g)) {
        if (!names.Service.has(service)) problems.push(`${rule.alert ?? rule.record}: service="${service}" is no Service of this render`);
      }

      for (const [, pattern] of expr.matchAll(/\bstatefulset=~"([^"]*)"/g)) {
        const matches = new RegExp(`^(?:${pattern})$`);
        for (const set of names.StatefulSet) {
          if (!matches.test(set)) problems.push(`${rule.alert ?? rule.record}: statefulset=~"${pattern}" misses the StatefulSet ${set}`);
        }
      }
    }
  }

  return problems;
}

let objects = 0;
let failures = 0;
for (const file of process.argv.slice(2)) {
  const documents = parseAllDocuments(readFileSync(file, "utf8"));
  let inFile = 0;
  // kind/namespace/name of each object: two objects of one kind and name in one render are one object in the
  // cluster, the later replacing the earlier (two long worker pool names once rendered one StatefulSet name).
  const seen = new Set();
  const names = { Service: new Set(), StatefulSet: new Set() };
  const alertRules = [];
  for (const document of documents) {
    if (document.errors.length > 0) {
      console.error(`${file}: YAML error: ${document.errors[0].message}`);
      failures++;
      continue;
    }

    const object = document.toJS();
    if (object === null || object === undefined) {
      continue;
    }

    inFile++;
    objects++;
    const name = `${file}: ${object.kind}/${object.metadata?.name}`;
    const Model = object.apiVersion && object.kind ? await modelFor(object.apiVersion, object.kind) : undefined;
    if (!Model) {
      console.error(`${name}: no schema for ${object.apiVersion} ${object.kind}`);
      failures++;
      continue;
    }

    const problems = [];
    try {
      new Model(object).validate();
    } catch (error) {
      problems.push(error.message);
    }

    if (object.kind === "ConfigMap" && Object.values(object.data ?? {}).some(v => secretInConfig.test(v))) {
      problems.push("a ConfigMap holds a key or password; keys belong in a Secret");
    }

    problems.push(...nameProblems(object), ...allLabelProblems(object), ...workloadProblems(object));
    const identity = `${object.kind}/${object.metadata?.namespace ?? ""}/${object.metadata?.name}`;
    if (seen.has(identity)) {
      problems.push("another object of this kind has the same name: one would replace the other");
    }
    seen.add(identity);
    names[object.kind]?.add(object.metadata?.name);
    if (object.kind === "PrometheusRule") alertRules.push(object);
    for (const problem of problems) {
      console.error(`${name}: ${problem}`);
    }

    failures += problems.length > 0 ? 1 : 0;
  }

  for (const rules of alertRules) {
    for (const problem of alertSelectorProblems(rules, names)) {
      console.error(`${file}: PrometheusRule/${rules.metadata?.name}: ${problem}`);
      failures++;
    }
  }

  if (inFile === 0) {
    console.error(`${file}: no Kubernetes object`);
    failures++;
  }
}

console.log(`${objects} objects validated, ${failures} invalid`);
process.exit(failures === 0 ? 0 : 1);
