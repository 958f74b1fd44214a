# syntax=docker/dockerfile:1
# A worker node: WorkerService over gRPC and its engines.
#   docker build -f deploy/docker/worker.Dockerfile -t scheduler-worker:0.1.0 .
#   docker build -f deploy/docker/worker.Dockerfile --build-arg VARIANT=cuda -t scheduler-worker:0.1.0-cuda .
# VARIANT selects both the runtime base and the publish: "cpu" (the default) is the ASP.NET Core image and the
# llama.cpp CPU backend; "cuda" is NVIDIA's CUDA 12 runtime image with the ASP.NET Core runtime copied in, and
# publishes with LlamaBackend=Cuda12 (the LLamaSharp.Backend.Cuda12 package). The chart picks "<tag>-cuda" for a pool
# with variant: cuda. Non-root (UID 1654), read-only root filesystem: only /tmp must be writable.
ARG DOTNET_VERSION=10.0
ARG VARIANT=cpu
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-runtime-ubuntu24.04

FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
ARG VARIANT
WORKDIR /src
COPY . .
RUN --mount=type=cache,id=nuget,target=/root/.nuget/packages \
    deploy/docker/publish.sh worker /app "$VARIANT"

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION} AS aspnet

FROM aspnet AS runtime-cpu
# llama.cpp's CPU backend (libggml-cpu) is built with OpenMP.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

FROM ${CUDA_IMAGE} AS runtime-cuda
# The CUDA image has no .NET: take the ASP.NET Core runtime from the official image, and its "app" user.
COPY --from=aspnet /usr/share/dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet \
    && apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && (id -u ubuntu >/dev/null 2>&1 && userdel -r ubuntu || true) \
    && groupadd --gid 1654 app && useradd --uid 1654 --gid 1654 --create-home app
ENV APP_UID=1654 DOTNET_RUNNING_IN_CONTAINER=true

FROM runtime-${VARIANT}
WORKDIR /app
COPY --from=build /app .
EXPOSE 7000
# The chart sets Worker__Port; the image's default listens there too.
ENV Worker__Port=7000
USER $APP_UID
ENTRYPOINT ["dotnet", "Scheduler.Worker.dll"]
