{{/* Names and labels shared by every template. */}}

{{- define "scheduler.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "scheduler.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels of every object; pass (dict "root" $ "component" "silo"). */}}
{{- define "scheduler.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "scheduler.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: scheduler
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "scheduler.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scheduler.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* A component's objects are <fullname>-<component>, the full name cut so the suffix always fits in the 63 characters
of a Service name. Cut after the suffix instead, a full name of 58 or more (a 48-character release name, say, plus
"-scheduler") lost "-silo" and "-redis" alike, and the silos' and Redis' Deployments, Services and network policies
rendered under one name, one replacing the other. The silo's name leaves room for "-metrics" too. */}}
{{- define "scheduler.siloName" -}}
{{- printf "%s-silo" (include "scheduler.fullname" . | trunc 50 | trimSuffix "-") }}
{{- end }}

{{/* The Service of the silos' HTTP port (metrics, health, dashboard). */}}
{{- define "scheduler.siloMetricsName" -}}
{{- printf "%s-metrics" (include "scheduler.siloName" .) }}
{{- end }}

{{- define "scheduler.redisName" -}}
{{- printf "%s-redis" (include "scheduler.fullname" . | trunc 57 | trimSuffix "-") }}
{{- end }}

{{/* One pool's StatefulSet, Service and PodDisruptionBudget name; pass (dict "root" $ "pool" $pool). At most 52
characters: a StatefulSet's pods carry a controller-revision-hash label of its name plus 11 characters, and a label
value holds 63. <fullname>-worker-<pool> when that fits; otherwise <fullname, cut to fit>-<pool>-<6 characters of a
hash of both>: the pool's whole name (at most 40, values.schema.json) stays readable, and the hash keeps two pools, or
two releases cut to one prefix, apart. Cut at 52 as before, pools "…-spot-pool-a" and "…-spot-pool-b" rendered one
name and one pool's objects replaced the other's; a long release name cut the pool's name off entirely. */}}
{{- define "scheduler.workerName" -}}
{{- $fullname := include "scheduler.fullname" .root }}
{{- $name := printf "%s-worker-%s" $fullname .pool.name }}
{{- if le (len $name) 52 }}
{{- $name }}
{{- else }}
{{- $room := sub 44 (len .pool.name) | int }}
{{- printf "%s-%s-%s" ($fullname | trunc $room | trimSuffix "-") .pool.name (printf "%s/%s" $fullname .pool.name | sha256sum | trunc 6) }}
{{- end }}
{{- end }}

{{- define "scheduler.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "scheduler.siloName" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "scheduler.secretName" -}}
{{- default (include "scheduler.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* repository:tag, and @digest when one pins it; pass (dict "repository" r "tag" t "digest" d). */}}
{{- define "scheduler.imageReference" -}}
{{- printf "%s:%s" .repository .tag }}{{ with .digest }}@{{ . }}{{ end }}
{{- end }}

{{- define "scheduler.siloImage" -}}
{{- $image := .Values.silo.image }}
{{- include "scheduler.imageReference" (dict "repository" $image.repository "tag" (default .Chart.AppVersion $image.tag) "digest" $image.digest) }}
{{- end }}

{{/* A pool's image: the CUDA variant is the same repository, tag suffixed "-cuda" (deploy/docker/worker.Dockerfile),
pinned by cudaDigest (a digest written into the tag became "…@sha256:…-cuda", no image at all). */}}
{{- define "scheduler.workerImage" -}}
{{- $image := .root.Values.workers.image }}
{{- $tag := default .root.Chart.AppVersion $image.tag }}
{{- $digest := $image.digest }}
{{- if eq .pool.variant "cuda" }}{{ $tag = printf "%s-cuda" $tag }}{{ $digest = $image.cudaDigest }}{{ end }}
{{- include "scheduler.imageReference" (dict "repository" $image.repository "tag" $tag "digest" $digest) }}
{{- end }}

{{/* The silos' gRPC address for workers: the silo Service, so a worker reaches whichever silo is ready. Workers run
in the silos' namespace, so the short name resolves (and a kustomize overlay may change the namespace). https when
the front door serves TLS: its certificate must then name the Service (see docs/operations.md). */}}
{{- define "scheduler.schedulerAddress" -}}
{{- printf "%s://%s:%v" (ternary "https" "http" (not (empty .Values.tls.frontDoor.existingSecret))) (include "scheduler.siloName" .) .Values.silo.ports.grpc }}
{{- end }}

{{/* The name the workers' TLS certificate carries, which the silos check instead of a worker's pod IP. */}}
{{- define "scheduler.nodeServerName" -}}
{{- .Values.tls.nodes.serverName | default (printf "%s-worker" (include "scheduler.fullname" .)) }}
{{- end }}

{{/* A volume of one key of a Secret, as the file ca.crt; pass (dict "name" "volume" "secret" "s" "key" "k"). */}}
{{- define "scheduler.caVolume" -}}
- name: {{ .name }}
  secret:
    secretName: {{ .secret }}
    items:
      - key: {{ .key }}
        path: ca.crt
{{- end }}

{{/* Redis in StackExchange.Redis form; a password, when configured, is expanded from the REDIS_PASSWORD variable. */}}
{{- define "scheduler.redisConnection" -}}
{{- if .Values.redis.enabled }}
{{- printf "%s:%v" (include "scheduler.redisName" .) .Values.redis.port }}
{{- else }}
{{- $r := .Values.redis.external }}
{{- $r.address }}
{{- if $r.existingSecret }},password=$(REDIS_PASSWORD){{ end }}
{{- if $r.ssl }},ssl=true{{ end }}
{{- end }}
{{- end }}

{{/* Downward-API pod identity: what Orleans' Kubernetes hosting reads, and the address a process advertises. */}}
{{- define "scheduler.podIdentityEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
{{- end }}

{{/* An environment variable from the release's Secret; pass (dict "root" $ "name" "X" "key" "k"). */}}
{{- define "scheduler.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "scheduler.secretName" .root }}
      key: {{ .key }}
{{- end }}

{{/* The worker engine's settings (the worker's Worker:Engine, Worker:Model:Path and Worker:Upstream:* keys). */}}
{{- define "scheduler.engineEnv" -}}
{{- $engine := .pool.engine -}}
- name: Worker__Engine
  value: {{ $engine.type | quote }}
{{- if eq $engine.type "simulated" }}
- name: Worker__SpeedUp
  value: {{ default "1" $engine.speedUp | quote }}
{{- else if eq $engine.type "llama" }}
- name: Worker__Model__Path
  value: {{ $engine.modelPath | quote }}
{{- else if eq $engine.type "upstream" }}
- name: Worker__Upstream__BaseUrl
  value: {{ $engine.url | quote }}
{{- with $engine.upstreamModel }}
- name: Worker__Upstream__Model
  value: {{ . | quote }}
{{- end }}
{{- with $engine.apiKeySecret }}
{{- /* The key stays out of configuration: the worker reads the variable this setting names. */}}
- name: UPSTREAM_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .name }}
      key: {{ .key }}
- name: Worker__Upstream__ApiKeyEnvironmentVariable
  value: UPSTREAM_API_KEY
{{- end }}
{{- /* The provider's limits and the timeouts: only those the pool sets, so the worker's defaults hold otherwise. */}}
{{- range $key, $setting := dict "slots" "Slots" "requestsPerMinute" "RequestsPerMinute" "tokensPerMinute" "TokensPerMinute" "chatOnly" "ChatOnly" "connectTimeoutSeconds" "ConnectTimeoutSeconds" "idleTimeoutSeconds" "IdleTimeoutSeconds" }}
{{- if hasKey $engine $key }}
- name: Worker__Upstream__{{ $setting }}
  value: {{ index $engine $key | toString | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* How the kubelet asks a silo whether it is ready: gRPC health, or /readyz on the HTTP port when the gRPC port
serves TLS (the kubelet's gRPC probe cannot). */}}
{{- define "scheduler.siloHealthProbe" -}}
{{- if .Values.tls.frontDoor.existingSecret -}}
httpGet:
  path: /readyz
  port: http
{{- else -}}
grpc:
  port: {{ .Values.silo.ports.grpc }}
{{- end }}
{{- end }}

{{/*
OTLP export settings (the standard OTEL_* variables); include only when values.otel.endpoint is set, after
podIdentityEnv, whose POD_NAME and POD_NAMESPACE the resource attributes use.
Pass (dict "root" $ "serviceName" "x" "attributes" "k=v,..."); attributes may be omitted.
*/}}
{{- define "scheduler.otelEnv" -}}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .root.Values.otel.endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ .root.Values.otel.protocol | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ .serviceName | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," (compact (list "k8s.pod.name=$(POD_NAME)" "k8s.namespace.name=$(POD_NAMESPACE)" (.attributes | default ""))) | quote }}
{{- end }}
