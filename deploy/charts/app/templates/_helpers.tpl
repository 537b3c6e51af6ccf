{{/*
app.appLabel is the pods' "app" label: .Values.app, or the release name.
*/}}
{{- define "app.appLabel" -}}
{{- .Values.app | default .Release.Name -}}
{{- end }}

{{/*
app.labels are the labels every object carries.
*/}}
{{- define "app.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ include "app.appLabel" . }}
{{- end }}

{{/*
app.podLabels are a role's pod template labels; call with (dict "ctx" $ "role" "stable"). They
leave out the chart's version, so upgrading the chart alone does not restart stable pods.
*/}}
{{- define "app.podLabels" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/part-of: {{ include "app.appLabel" .ctx }}
{{ include "app.selector" . }}
{{- end }}

{{/*
app.selector selects one role's pods; call with (dict "ctx" $ "role" "stable"). It is part of
a Deployment's immutable selector, so it never changes between chart versions.
*/}}
{{- define "app.selector" -}}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app: {{ include "app.appLabel" .ctx }}
version: {{ .role }}
{{- end }}

{{/*
app.image is "repository:tag" of the stable image or, with canary true, the canary's.
*/}}
{{- define "app.image" -}}
{{- $img := .ctx.Values.backend.image -}}
{{- if .canary }}{{ $img = .ctx.Values.backend.canary.image }}{{ end -}}
{{- printf "%s:%s" $img.repository (toString $img.tag) -}}
{{- end }}
