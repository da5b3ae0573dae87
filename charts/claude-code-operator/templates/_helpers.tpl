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
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "cco.peering" -}}
{{- gt (int .Values.replicas) 1 -}}
{{- end -}}

{{/* What the operator does inside a watched namespace (kube/api.py and kopf), nothing more. */}}
{{- define "cco.namespacedRules" -}}
# kopf watches the resources and patches their annotations (and removes the finalizer that earlier
# builds put on them); the operator writes their status.
- apiGroups: [claudecode.dev]
  resources: [claudecodeproviders]
  verbs: [get, list, watch, patch]
- apiGroups: [claudecode.dev]
  resources: [claudecodeproviders/status]
  verbs: [patch]
# Login Secrets are watched (never polled) and read; the generated keys Secret is created once (and
# completed by apply when a changed spec wants another key). RBAC cannot select by label: the operator
# itself lists and watches only Secrets labelled claudecode.dev/provider (a server-side selector), reads
# by name only the Secrets resources name, and uses one only when its label names that resource.
# Holding get and patch on secrets is also what lets the operator grant a pod get and patch on its own
# login Secret (RBAC allows granting only what one holds).
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, patch]
# One pod per resource: watched for readiness and loss, created, deleted to replace it (never changed).
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, create, delete]
# The other children are written by server-side apply only, and watched (those labelled as the
# operator's) so that one deleted or edited is written again; the ServiceAccount, Role and RoleBinding
# let a pod write its refreshed login back to its login Secret (that one Secret, get and patch).
- apiGroups: [""]
  resources: [services, configmaps]
  verbs: [list, watch, create, patch]
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [create, patch]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [create, patch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [list, watch, create, patch]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end -}}

{{/* Egress rules to the API server: its Service's port 443 (where a CNI checks egress before translating
it) and its real addresses: apiServer.endpoints, else the default/kubernetes EndpointSlice at install time
(Calico and Cilium check egress after kubernetes.default:443 is translated to them), else port 6443. */}}
{{- define "cco.apiServerEgress" -}}
{{- $endpoints := list }}
{{- range .Values.apiServer.endpoints }}
{{- $endpoints = append $endpoints (dict "address" (regexReplaceAll "^\\[?([^\\]]*)\\]?:[0-9]+$" . "${1}") "port" (regexReplaceAll "^.*:([0-9]+)$" . "${1}" | int)) }}
{{- end }}
{{- if not $endpoints }}
{{- with lookup "discovery.k8s.io/v1" "EndpointSlice" "default" "kubernetes" }}
{{- $ports := list }}
{{- range .ports }}{{- if eq (.protocol | default "TCP") "TCP" }}{{- $ports = append $ports .port }}{{- end }}{{- end }}
{{- range .endpoints }}{{- range $address := .addresses }}{{- range $port := $ports }}
{{- $endpoints = append $endpoints (dict "address" $address "port" ($port | int)) }}
{{- end }}{{- end }}{{- end }}
{{- end }}
{{- end -}}
- ports:
    - {port: 443, protocol: TCP}
{{- range $endpoints }}
- to:
    - ipBlock: {cidr: {{ .address }}/{{ if contains ":" .address }}128{{ else }}32{{ end }}}
  ports:
    - {port: {{ .port }}, protocol: TCP}
{{- else }}
# Neither apiServer.endpoints nor the default/kubernetes EndpointSlice: the usual API server port.
- ports:
    - {port: 6443, protocol: TCP}
{{- end }}
{{- end -}}

{{/* The activator's pods; the operator's per-route NetworkPolicies and provider policies select these. */}}
{{- define "cco.activatorSelectorLabels" -}}
app.kubernetes.io/name: claude-code-activator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
