# syntax=docker/dockerfile:1
# The scheduler silo: Orleans host and gRPC front door. No worker engine and no native inference library.
#   docker build -f deploy/docker/silo.Dockerfile -t scheduler-silo:0.1.0 .
# Runs as the non-root user "app" (UID 1654) and with a read-only root filesystem: only /tmp must be writable
# (an emptyDir in the chart). Settings come from /app/appsettings.json (the chart mounts its own over the embedded
# single-node defaults) and Scheduler__* environment variables.
ARG DOTNET_VERSION=10.0

FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,id=nuget,target=/root/.nuget/packages \
    deploy/docker/publish.sh silo /app

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION}
WORKDIR /app
COPY --from=build /app .
# gRPC (HTTP/2), HTTP (/metrics, /healthz, /dashboard), Orleans silo-to-silo, Orleans gateway.
EXPOSE 5000 5080 11111 30000
USER $APP_UID
ENTRYPOINT ["dotnet", "Scheduler.Silo.dll"]
