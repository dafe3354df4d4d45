{{/* Chart name. */}}
{{- define "kubeask.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the prefix of every namespaced and cluster-scoped object of this release. */}}
{{- define "kubeask.fullname" -}}
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

{{- define "kubeask.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kubeask.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubeask.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kubeask.labels" -}}
helm.sh/chart: {{ include "kubeask.chart" . }}
{{ include "kubeask.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kubeask
{{- end }}

{{- define "kubeask.serviceAccountName" -}}
{{- include "kubeask.fullname" . }}
{{- end }}

{{- define "kubeask.webhookServiceName" -}}
{{- printf "%s-webhook" (include "kubeask.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Secret in which the manager keeps its self-managed webhook CA and serving certificate. */}}
{{- define "kubeask.webhookSecretName" -}}
{{- printf "%s-webhook-tls" (include "kubeask.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The leader-election Lease: the manager's default --leader-election-id (test/chart checks that
the manager the chart configures elects on this name). One name for every release: a release
in another namespace has its own, and a second release in the same namespace is refused by
Helm instead of sharing the leadership with the first.
*/}}
{{- define "kubeask.leaseName" -}}
kubeask-manager.agents.kubeask.dev
{{- end }}

{{- define "kubeask.configMapName" -}}
{{- printf "%s-config" (include "kubeask.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kubeask.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
kubeask.validate fails the rendering on values that would install something broken or unsafe.
*/}}
{{- define "kubeask.validate" -}}
{{- $mode := .Values.admission.mode }}
{{- if not (has $mode (list "policy" "webhook")) }}
{{- fail (printf "admission.mode must be \"policy\" or \"webhook\", not %q" $mode) }}
{{- end }}
{{- if and (eq $mode "policy") (semverCompare "<1.36.0-0" .Capabilities.KubeVersion.Version) }}
{{- fail (printf "admission.mode=policy needs Kubernetes >= 1.36 (MutatingAdmissionPolicy v1); this cluster is %s: set admission.mode=webhook" .Capabilities.KubeVersion.Version) }}
{{- end }}
{{- $imp := .Values.impersonation.mode }}
{{- if not (has $imp (list "constrained" "legacy")) }}
{{- fail (printf "impersonation.mode must be \"constrained\" or \"legacy\", not %q" $imp) }}
{{- end }}
{{- if and (eq $imp "constrained") (semverCompare "<1.36.0-0" .Capabilities.KubeVersion.Version) }}
{{- fail (printf "impersonation.mode=constrained needs Kubernetes >= 1.36 (the ConstrainedImpersonation feature, beta and on by default there); this cluster is %s: set impersonation.mode=legacy" .Capabilities.KubeVersion.Version) }}
{{- end }}
{{- if and (eq $imp "legacy") (has "*" .Values.impersonation.userExtraKeys) }}
{{- fail "impersonation.userExtraKeys: \"*\" is only supported with impersonation.mode=constrained (legacy RBAC cannot express \"any extra key\")" }}
{{- end }}
{{- if not .Values.agent.allowedModes }}
{{- fail "agent.allowedModes must list at least one of ReadOnly, Propose, Auto" }}
{{- end }}
{{- range .Values.agent.allowedModes }}
{{- if not (has . (list "ReadOnly" "Propose" "Auto")) }}
{{- fail (printf "agent.allowedModes: unknown mode %q (want ReadOnly, Propose or Auto)" .) }}
{{- end }}
{{- end }}
{{- range (.Values.config.models | default list) }}
{{- if hasKey . "apiKey" }}
{{- fail (printf "config.models[%s].apiKey: API keys must not be values; put the key in a Secret and reference it with apiKeySecretRef" (.name | default "?")) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
kubeask.impersonateVerbs lists the request verbs the manager may perform while impersonating,
derived from agent.allowedModes, as a JSON list (use with fromJsonArray).
deletecollection is deliberately absent in every mode: the agent's tools act on named objects,
and a collection delete as the requester has a blast radius no proposed step should have.
*/}}
{{- define "kubeask.impersonateVerbs" -}}
{{- $verbs := list "get" "list" "watch" }}
{{- if or (has "Propose" .Values.agent.allowedModes) (has "Auto" .Values.agent.allowedModes) }}
{{- $verbs = concat $verbs (list "create" "update" "patch" "delete") }}
{{- end }}
{{- toJson $verbs }}
{{- end }}

{{/*
kubeask.apiKeySecrets lists, as a JSON list, the Secrets the manager may get: apiKeySecrets plus
every config.models[].apiKeySecretRef.name, de-duplicated and sorted.
*/}}
{{- define "kubeask.apiKeySecrets" -}}
{{- $names := .Values.apiKeySecrets | default list }}
{{- range (.Values.config.models | default list) }}
{{- if and .apiKeySecretRef .apiKeySecretRef.name }}
{{- $names = append $names .apiKeySecretRef.name }}
{{- end }}
{{- end }}
{{- toJson ($names | uniq | sortAlpha) }}
{{- end }}
