#!/usr/bin/env bash
# Publishes what one image runs, the same way in the Dockerfiles and in CI (deploy/check.sh):
#   deploy/docker/publish.sh silo|worker OUT [cpu|cuda]
# Release, framework-dependent (the image brings the ASP.NET Core runtime), for this machine's Linux architecture,
# so only that architecture's native libraries are copied. The worker's "cuda" variant sets LlamaBackend=Cuda12:
# the worker project then references LLamaSharp.Backend.Cuda12 instead of the CPU backend.
set -euo pipefail
app=$1
out=$2
variant=${3:-cpu}
cd "$(dirname "$0")/../.."
case "$(uname -m)" in
  aarch64 | arm64) rid=linux-arm64 ;;
  *) rid=linux-x64 ;;
esac
props=(-p:UseAppHost=false)
case "$app" in
  silo) project=src/Scheduler.Silo/Scheduler.Silo.csproj ;;
  worker)
    project=src/Scheduler.Worker/Scheduler.Worker.csproj
    case "$variant" in
      cpu) ;;
      cuda) props+=(-p:LlamaBackend=Cuda12) ;;
      *) echo "variant must be cpu or cuda, not '$variant'" >&2; exit 2 ;;
    esac
    ;;
  *) echo "usage: $0 silo|worker OUT [cpu|cuda]" >&2; exit 2 ;;
esac
dotnet publish "$project" -c Release -r "$rid" --self-contained false -o "$out" -nologo "${props[@]}"
