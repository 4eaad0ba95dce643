// Package k8s holds the Kubernetes manifests of gorerank (plain YAML under base/, overlays/
// and components/, composed with kustomize) and the strict offline validation the tests run
// on them: every document, and every overlay as kustomize renders it, is decoded into the
// Kubernetes API types with unknown fields as errors, then checked for consistency with the
// server (drain flags, probes, metric names in /metrics) and with the container image
// (deploy/image: port, user, HF_HOME). No cluster is needed.
//
// Custom resources: ServiceMonitor decodes into the Prometheus Operator's own Go types
// (github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring, a light module).
// KEDA's ScaledObject and prometheus-adapter's Helm values decode into the strict structs of
// this package ([ScaledObject], [AdapterValues]), which mirror only the fields used here,
// spelled as in keda.sh/v1alpha1 and in the prometheus-adapter chart, so that a misspelt or
// misplaced field is an error; the KEDA operator module itself is far too heavy to import.
package k8s
