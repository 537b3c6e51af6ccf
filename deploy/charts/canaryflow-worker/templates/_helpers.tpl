{{/*
worker.fullname names the release's objects: the release name when it already says
canaryflow-worker, else "<release>-canaryflow-worker", cut to 63 characters.
*/}}
{{- define "worker.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end }}

{{/*
worker.serviceAccountName is the ServiceAccount the worker runs as.
*/}}
{{- define "worker.serviceAccountName" -}}
{{- .Values.serviceAccount.name | default (include "worker.fullname" .) -}}
{{- end }}

{{/*
worker.targetNamespaces are the namespaces the worker is granted: targetNamespaces, or the
release's own namespace, without duplicates.
*/}}
{{- define "worker.targetNamespaces" -}}
{{- .Values.targetNamespaces | default (list .Release.Namespace) | uniq | toJson -}}
{{- end }}

{{/*
worker.selector selects the worker's pods; part of the Deployment's immutable selector.
*/}}
{{- define "worker.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
worker.labels are the labels every object carries.
*/}}
{{- define "worker.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "worker.selector" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | toString | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: worker
app.kubernetes.io/part-of: canaryflow
{{- end }}
