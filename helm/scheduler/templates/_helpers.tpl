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

{{- define "scheduler.siloName" -}}
{{- printf "%s-silo" (include "scheduler.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "scheduler.redisName" -}}
{{- printf "%s-redis" (include "scheduler.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* One pool's StatefulSet name; pass (dict "root" $ "pool" $pool). */}}
{{- define "scheduler.workerName" -}}
{{- printf "%s-worker-%s" (include "scheduler.fullname" .root) .pool.name | trunc 52 | trimSuffix "-" }}
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

{{- define "scheduler.siloImage" -}}
{{- printf "%s:%s" .Values.silo.image.repository (default .Chart.AppVersion .Values.silo.image.tag) }}
{{- end }}

{{/* A pool's image: the CUDA variant is the same repository, tag suffixed "-cuda" (deploy/docker/worker.Dockerfile). */}}
{{- define "scheduler.workerImage" -}}
{{- $tag := default .root.Chart.AppVersion .root.Values.workers.image.tag }}
{{- if eq .pool.variant "cuda" }}{{ $tag = printf "%s-cuda" $tag }}{{ end }}
{{- printf "%s:%s" .root.Values.workers.image.repository $tag }}
{{- end }}

{{/* The silos' gRPC address for workers: the silo Service, so a worker reaches whichever silo is ready. Workers run
in the silos' namespace, so the short name resolves (and a kustomize overlay may change the namespace). */}}
{{- define "scheduler.schedulerAddress" -}}
{{- printf "http://%s:%v" (include "scheduler.siloName" .) .Values.silo.ports.grpc }}
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
{{- end }}
{{- end }}
