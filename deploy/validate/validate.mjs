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

function workloadProblems(object) {
  const spec = object.spec?.template?.spec;
  if (!spec) {
    return [];
  }

  const problems = [];
  for (const c of spec.containers ?? []) {
    const sc = c.securityContext ?? {};
    const where = `container ${c.name}`;
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation must be false`);
    if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem must be true`);
    if (!(sc.capabilities?.drop ?? []).includes("ALL")) problems.push(`${where}: capabilities must drop ALL`);
    if (!c.resources?.requests) problems.push(`${where}: resources.requests missing`);
    if (!c.livenessProbe || !c.readinessProbe) problems.push(`${where}: liveness and readiness probes required`);
  }

  if (spec.securityContext?.runAsNonRoot !== true) problems.push("pod securityContext.runAsNonRoot must be true");
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

    problems.push(...workloadProblems(object));
    const identity = `${object.kind}/${object.metadata?.namespace ?? ""}/${object.metadata?.name}`;
    if (seen.has(identity)) {
      problems.push("another object of this kind has the same name: one would replace the other");
    }
    seen.add(identity);
    for (const problem of problems) {
      console.error(`${name}: ${problem}`);
    }

    failures += problems.length > 0 ? 1 : 0;
  }

  if (inFile === 0) {
    console.error(`${file}: no Kubernetes object`);
    failures++;
  }
}

console.log(`${objects} objects validated, ${failures} invalid`);
process.exit(failures === 0 ? 0 : 1);
