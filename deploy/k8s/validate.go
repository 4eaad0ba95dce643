package k8s

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

// Object is one decoded manifest document.
type Object struct {
	Kind string // apiVersion/kind, e.g. "apps/v1/Deployment"
	Name string
	Obj  any // *appsv1.Deployment, *corev1.Service, ...
}

// kinds maps apiVersion/kind to a constructor of the typed object; any other kind is an error.
var kinds = map[string]func() any{
	"apps/v1/Deployment":                            func() any { return &appsv1.Deployment{} },
	"v1/Service":                                    func() any { return &corev1.Service{} },
	"policy/v1/PodDisruptionBudget":                 func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler":        func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"monitoring.coreos.com/v1/ServiceMonitor":       func() any { return &monitoringv1.ServiceMonitor{} },
	"keda.sh/v1alpha1/ScaledObject":                 func() any { return &ScaledObject{} },
	"kustomize.config.k8s.io/v1beta1/Kustomization": func() any { return &kustypes.Kustomization{} },
	"kustomize.config.k8s.io/v1alpha1/Component":    func() any { return &kustypes.Kustomization{} },
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// Decode strictly decodes every document of a YAML stream: an unknown or duplicate field, a
// wrong type, an unknown kind or a document without a name is an error naming the document.
func Decode(stream []byte) ([]Object, error) {
	var out []Object
	for i, doc := range docSep.Split(string(stream), -1) {
		if len(bytes.TrimSpace(stripComments([]byte(doc)))) == 0 {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		kind := tm.APIVersion + "/" + tm.Kind
		mk, ok := kinds[kind]
		if !ok {
			return nil, fmt.Errorf("document %d: unknown kind %q", i, kind)
		}
		obj := mk()
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			return nil, fmt.Errorf("document %d (%s): %w", i, kind, err)
		}
		name := ""
		if m, ok := obj.(metav1.Object); ok {
			name = m.GetName()
			if name == "" {
				return nil, fmt.Errorf("document %d (%s): no metadata.name", i, kind)
			}
		}
		out = append(out, Object{Kind: kind, Name: name, Obj: obj})
	}
	if len(out) == 0 {
		return nil, errors.New("no documents")
	}
	return out, nil
}

var commentLine = regexp.MustCompile(`(?m)^\s*#.*$`)

func stripComments(b []byte) []byte { return commentLine.ReplaceAll(b, nil) }

// ScaledObject mirrors the fields of KEDA's keda.sh/v1alpha1 ScaledObject that these
// manifests use (github.com/kedacore/keda/v2/apis/keda/v1alpha1, ScaledObjectSpec).
type ScaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			APIVersion string `json:"apiVersion,omitempty"`
			Kind       string `json:"kind,omitempty"`
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		PollingInterval *int32 `json:"pollingInterval,omitempty"`
		CooldownPeriod  *int32 `json:"cooldownPeriod,omitempty"`
		MinReplicaCount *int32 `json:"minReplicaCount,omitempty"`
		MaxReplicaCount *int32 `json:"maxReplicaCount,omitempty"`
		Advanced        *struct {
			HorizontalPodAutoscalerConfig *struct {
				Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
			} `json:"horizontalPodAutoscalerConfig,omitempty"`
		} `json:"advanced,omitempty"`
		Triggers []struct {
			Type       string                         `json:"type"`
			MetricType autoscalingv2.MetricTargetType `json:"metricType,omitempty"`
			// Metadata of the prometheus trigger (keda.sh/docs/scalers/prometheus): a strict
			// struct rather than KEDA's map[string]string, so that a misspelt key fails.
			Metadata struct {
				ServerAddress string `json:"serverAddress"`
				Query         string `json:"query"`
				Threshold     string `json:"threshold"`
			} `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

// AdapterValues mirrors the parts of the prometheus-adapter Helm chart's values.yaml used in
// overlays/prometheus-adapter (chart prometheus-community/prometheus-adapter; the rule format
// is the adapter's own config, docs/config.md upstream).
type AdapterValues struct {
	Prometheus struct {
		URL  string `json:"url"`
		Port int    `json:"port"`
	} `json:"prometheus"`
	Rules struct {
		Default bool          `json:"default"`
		Custom  []AdapterRule `json:"custom"`
	} `json:"rules"`
}

// AdapterRule is one prometheus-adapter discovery rule.
type AdapterRule struct {
	SeriesQuery string `json:"seriesQuery"`
	Resources   struct {
		Overrides map[string]struct {
			Resource string `json:"resource"`
		} `json:"overrides"`
	} `json:"resources"`
	Name struct {
		Matches string `json:"matches"`
		As      string `json:"as"`
	} `json:"name"`
	MetricsQuery string `json:"metricsQuery"`
}

// DecodeAdapterValues strictly decodes prometheus-adapter Helm values.
func DecodeAdapterValues(b []byte) (*AdapterValues, error) {
	var v AdapterValues
	if err := yaml.UnmarshalStrict(b, &v); err != nil {
		return nil, fmt.Errorf("prometheus-adapter values: %w", err)
	}
	return &v, nil
}
