{{/* The web UI's manager arguments, container port and volumes (ui.enabled). */}}
{{- define "kubeask.uiArgs" -}}
{{- if .Values.ui.enabled }}
- --ui-bind-address=:{{ .Values.ui.port }}
- --ui-default-namespace={{ .Values.ui.defaultNamespace }}
{{- with .Values.ui.publicURL }}
- --ui-public-url={{ . }}
{{- end }}
{{- range .Values.ui.audiences }}
- --ui-audience={{ . }}
{{- end }}
{{- if .Values.ui.oidc.issuerURL }}
- --ui-oidc-issuer-url={{ .Values.ui.oidc.issuerURL }}
- --ui-oidc-client-id={{ required "ui.oidc.clientID is required with ui.oidc.issuerURL" .Values.ui.oidc.clientID }}
{{- end }}
{{- if .Values.ui.tlsSecretName }}
- --ui-tls-cert-file=/etc/kubeask-ui-tls/tls.crt
- --ui-tls-key-file=/etc/kubeask-ui-tls/tls.key
{{- end }}
{{- end }}
{{- end }}

{{- define "kubeask.uiPorts" -}}
{{- if .Values.ui.enabled }}
- name: ui
  containerPort: {{ .Values.ui.port }}
  protocol: TCP
{{- end }}
{{- end }}

{{- define "kubeask.uiVolumeMounts" -}}
{{- if and .Values.ui.enabled .Values.ui.tlsSecretName }}
- name: ui-tls
  mountPath: /etc/kubeask-ui-tls
  readOnly: true
{{- end }}
{{- end }}

{{- define "kubeask.uiVolumes" -}}
{{- if and .Values.ui.enabled .Values.ui.tlsSecretName }}
- name: ui-tls
  secret:
    secretName: {{ .Values.ui.tlsSecretName }}
{{- end }}
{{- end }}
