{{- define "cco.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "cco.serviceAccountName" -}}
{{- default (include "cco.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The operator's pods; provider NetworkPolicies admit /auth/status probes from exactly these labels. */}}
{{- define "cco.selectorLabels" -}}
app.kubernetes.io/name: claude-code-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cco.labels" -}}
{{ include "cco.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
