package k8s

import (
	"bufio"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gorerank/gorerank/deploy/image"
	"github.com/gorerank/gorerank/deploy/internal/testbin"
)

const adapterValues = "overlays/prometheus-adapter/prometheus-adapter-values.yaml"

// yamlFiles lists every YAML file under deploy/k8s.
func yamlFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return err
	})
	if err != nil || len(files) < 10 {
		t.Fatalf("walking deploy/k8s: %v, %d files", err, len(files))
	}
	return files
}

// Every file as written decodes strictly (patches are partial Deployments: they decode too).
func TestManifestFilesDecode(t *testing.T) {
	for _, f := range yamlFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.ToSlash(f) == adapterValues {
			v, err := DecodeAdapterValues(b)
			if err != nil {
				t.Errorf("%s: %v", f, err)
			} else if len(v.Rules.Custom) == 0 || v.Rules.Default {
				t.Errorf("%s: want custom rules only", f)
			}
			continue
		}
		if _, err := Decode(b); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// The decoder is strict: each of these is an error.
func TestDecodeRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field": "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {selectr: {a: b}}\n",
		"misplaced":     "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {template: {spec: {containers: [{name: c, image: i, readinessProbe: {path: /ready}}]}}}\n",
		"wrong type":    "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: x}\nspec: {maxUnavailable: [1]}\n",
		"bad quantity":  "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {template: {spec: {containers: [{name: c, resources: {limits: {memory: 3GB-ish}}}]}}}\n",
		"duplicate key": "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nmetadata: {name: y}\n",
		"unknown kind":  "apiVersion: v1\nkind: Servise\nmetadata: {name: x}\n",
		"no name":       "apiVersion: v1\nkind: Service\nmetadata: {}\n",
		"keda misspelt": "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: x}\nspec: {scaleTargetRef: {name: d}, triggers: [{type: prometheus, metadata: {serverAdress: x}}]}\n",
		"monitor field": "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: x}\nspec: {endpoints: [{prot: http}]}\n",
		"empty":         "# nothing\n---\n",
		"not yaml":      "apiVersion: [\n",
	} {
		if _, err := Decode([]byte(doc)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	if _, err := DecodeAdapterValues([]byte("rules: {custom: [{seriesQuery: x, metricQuery: y}]}\n")); err == nil {
		t.Error("adapter values with a misspelt field: no error")
	}
}

// render runs kustomize on one folder and decodes its output strictly.
func render(t *testing.T, dir string) []Object {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	y, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Decode(y)
	if err != nil {
		t.Fatalf("kustomize build %s: %v\n%s", dir, err, y)
	}
	return objs
}

func one[T any](t *testing.T, objs []Object) T {
	t.Helper()
	var found []T
	for _, o := range objs {
		if v, ok := o.Obj.(T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("%d objects of type %T, want 1", len(found), zero)
	}
	return found[0]
}

func has[T any](objs []Object) bool {
	for _, o := range objs {
		if _, ok := o.Obj.(T); ok {
			return true
		}
	}
	return false
}

// Peak RSS of the engine measured in docs/PERFORMANCE.md and docs/CAPACITY.md (VmHWM over
// the bench workloads, rag included, or of the server under rag load): the model and one
// --max-batch-tokens batch of 16384 tokens with small request bodies. The formula of
// docs/CAPACITY.md ("Memory: from flags to peak") adds what requests hold (memoryLimit).
var peakRSS = map[string]resource.Quantity{
	"f32":  resource.MustParse("2064Mi"),
	"bf16": resource.MustParse("1307Mi"),
	"f16":  resource.MustParse("1307Mi"),
	"int8": resource.MustParse("708M"), // rerank serve under rag load (docs/CAPACITY.md)
}

// memoryNeed is docs/CAPACITY.md's formula from the serve flags to peak RSS, with a margin of
// 1.25: the engine's measured peak (one batch of 16384 tokens; scaled when --max-batch-tokens
// or --workers say more batches), plus 3 bytes per byte of --max-inflight-bytes (the body, its
// parsed strings and the answer, measured 2.7 on the tiny model) plus 64 bytes per token of
// --max-inflight-tokens (ids, queue items; /tokenize's answers are counted in bytes of answer
// per token the same way) plus 2.5 bytes per byte of --cache-bytes (the entries and the room
// Go's collector leaves above them at GOGC=100, measured 2.2-2.45 on the tiny bge-m3; none
// when --cache-size or --cache-bytes is 0).
func memoryNeed(t *testing.T, f map[string]string, engine int64) int64 {
	t.Helper()
	num := func(name string, def int64) int64 {
		v, ok := f[name]
		if !ok {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			t.Fatalf("--%s=%q: want a positive integer", name, v)
		}
		return n
	}
	workers := num("workers", 1)
	batch := num("max-batch-tokens", 16384)
	bytes := max(num("max-inflight-bytes", 64<<20), num("max-body-bytes", 16<<20))
	tokens := num("max-inflight-tokens", (workers+1)*batch)
	if workers*batch > 16384 {
		engine = engine * workers * batch / 16384 // the activations grow with the batch (the weights do not: an overestimate)
	}
	cache := int64(0)
	if f["cache-size"] != "0" && f["cache-bytes"] != "0" {
		cache = num("cache-bytes", 16<<20)
	}
	peak := engine + 3*bytes + 64*tokens + 5*cache/2
	return peak * 5 / 4
}

// Peak RSS of `rerank serve` with the reranker and bge-m3 (docs/CAPACITY.md, "Both stages in
// one process"): both models under concurrent rerank and embedding load.
var peakTwoStage = map[string]resource.Quantity{
	"f32": resource.MustParse("3700Mi"), // 3,785,016 kB VmHWM, 2026-12-06, Zen 5, docs/CAPACITY.md
}

// flags parses a container's "--name=value" arguments after the subcommand.
func flags(t *testing.T, args []string) (string, map[string]string) {
	t.Helper()
	if len(args) == 0 {
		t.Fatal("no arguments")
	}
	m := map[string]string{}
	add := func(name, value string) { // a repeated flag or argument: its values joined by commas, in order
		if old, ok := m[name]; ok {
			value = old + "," + value
		}
		m[name] = value
	}
	for _, a := range args[1:] {
		name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !ok {
			if !strings.HasPrefix(a, "--") {
				add("arg", a) // a positional argument (download's model ids)
				continue
			}
			value = "true"
		}
		add(name, value)
	}
	return args[0], m
}

func envOf(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func mountedAt(c corev1.Container, path string) bool {
	return slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == path })
}

func matches(t *testing.T, sel *metav1.LabelSelector, l map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	return !s.Empty() && s.Matches(labels.Set(l))
}

func dur(t *testing.T, flag map[string]string, name string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(flag[name])
	if err != nil {
		t.Fatalf("--%s: %v", name, err)
	}
	return d
}

// checkInstallation checks that the rendered objects fit together, the image and the server.
func checkInstallation(t *testing.T, objs []Object) {
	d := one[*appsv1.Deployment](t, objs)
	pod := d.Spec.Template
	if !matches(t, d.Spec.Selector, pod.Labels) {
		t.Errorf("Deployment selector %v does not select its pods %v", d.Spec.Selector, pod.Labels)
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Error("rolling update must keep every replica until its successor is ready (maxUnavailable: 0)")
	}
	sc := pod.Spec.SecurityContext
	if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != image.UID || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("pod security context %+v: want runAsNonRoot and the image's user %d", sc, image.UID)
	}
	if len(pod.Spec.Containers) != 1 || len(pod.Spec.InitContainers) != 1 {
		t.Fatalf("%d containers, %d init containers", len(pod.Spec.Containers), len(pod.Spec.InitContainers))
	}
	c, ic := pod.Spec.Containers[0], pod.Spec.InitContainers[0]

	cmd, f := flags(t, c.Args)
	icmd, iflag := flags(t, ic.Args)
	if cmd != "serve" || icmd != "download" {
		t.Fatalf("commands %q and %q, want serve and download", cmd, icmd)
	}
	if f["model"] == "" || iflag["arg"] != f["model"] {
		t.Errorf("the init container downloads %q, the server loads %q", iflag["arg"], f["model"])
	}
	if ic.Image != c.Image {
		t.Errorf("init image %q, server image %q", ic.Image, c.Image)
	}
	for _, x := range []corev1.Container{c, ic} {
		if envOf(x, "HF_HOME") != image.HFHome || !mountedAt(x, image.HFHome) {
			t.Errorf("%s: HF_HOME %q, want %s on a volume", x.Name, envOf(x, "HF_HOME"), image.HFHome)
		}
	}
	if envOf(c, "HF_HUB_OFFLINE") != "1" {
		t.Error("the server should start offline from the downloaded cache (HF_HUB_OFFLINE=1)")
	}

	// port and probes
	port, err := strconv.Atoi(f["port"])
	if err != nil || port != image.Port || f["host"] != "0.0.0.0" {
		t.Errorf("--host %q --port %q, want 0.0.0.0:%d (the image's EXPOSE)", f["host"], f["port"], image.Port)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != int32(port) || c.Ports[0].Name != "http" {
		t.Errorf("container ports %+v", c.Ports)
	}
	for probe, path := range map[*corev1.Probe]string{c.ReadinessProbe: "/ready", c.LivenessProbe: "/health"} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || probe.HTTPGet.Port.String() != "http" {
			t.Errorf("probe %+v, want GET %s on port http", probe, path)
		}
	}

	// drain: the grace period covers the delay and the timeout; an accepted request finishes
	delay, timeout, reqTimeout := dur(t, f, "shutdown-delay"), dur(t, f, "shutdown-timeout"), dur(t, f, "request-timeout")
	grace := time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	if delay < 2*time.Second || grace < delay+timeout+5*time.Second || timeout < reqTimeout {
		t.Errorf("--shutdown-delay %v --shutdown-timeout %v --request-timeout %v, terminationGracePeriodSeconds %v: want delay ≥ 2s, grace ≥ delay + timeout + 5s, timeout ≥ request timeout",
			delay, timeout, reqTimeout, grace)
	}
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Exec != nil {
		t.Error("a preStop exec hook cannot run: the image has no shell")
	}

	// resources: Guaranteed QoS, memory above the measured peak with a margin
	dtype := f["dtype"]
	if dtype == "" {
		dtype = "f32"
	}
	peak, ok := peakRSS[dtype]
	if models := strings.Count(f["model"], ",") + 1; models > 1 {
		peak, ok = peakTwoStage[dtype]
		if models > 2 {
			ok = false
		}
	}
	if !ok {
		t.Fatalf("no measured peak RSS for --dtype %s and --model %s", dtype, f["model"])
	}
	req, lim := c.Resources.Requests, c.Resources.Limits
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		l, q := lim[r], req[r]
		if l.IsZero() || q.Cmp(l) != 0 {
			t.Errorf("%s: request %v, limit %v: want equal and set", r, req[r], lim[r])
		}
	}
	mem := lim[corev1.ResourceMemory]
	if need := memoryNeed(t, f, peak.Value()); mem.Value() < need {
		t.Errorf("--dtype %s: memory limit %v below 1.25 × the peak of docs/CAPACITY.md's formula, %d MiB", dtype, mem.String(), need>>20)
	}

	// Service → pods, PDB → pods
	svc := one[*corev1.Service](t, objs)
	if !matches(t, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, pod.Labels) {
		t.Errorf("Service selector %v does not select the pods", svc.Spec.Selector)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != c.Ports[0].Name {
		t.Errorf("Service ports %+v", svc.Spec.Ports)
	}
	pdb := one[*policyv1.PodDisruptionBudget](t, objs)
	if !matches(t, pdb.Spec.Selector, pod.Labels) {
		t.Error("PodDisruptionBudget does not select the pods")
	}

	// autoscaler → Deployment; scrape config → Service
	minReplicas := int32(0)
	if has[*autoscalingv2.HorizontalPodAutoscaler](objs) {
		h := one[*autoscalingv2.HorizontalPodAutoscaler](t, objs)
		if h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.ScaleTargetRef.Name != d.Name {
			t.Errorf("HPA targets %+v", h.Spec.ScaleTargetRef)
		}
		minReplicas = *h.Spec.MinReplicas
	}
	if has[*ScaledObject](objs) {
		so := one[*ScaledObject](t, objs)
		if so.Spec.ScaleTargetRef.Name != d.Name || len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].Type != "prometheus" {
			t.Errorf("ScaledObject %+v", so.Spec)
		}
		if _, err := strconv.ParseFloat(so.Spec.Triggers[0].Metadata.Threshold, 64); err != nil {
			t.Errorf("ScaledObject threshold: %v", err)
		}
		minReplicas = *so.Spec.MinReplicaCount
	}
	if has[*autoscalingv2.HorizontalPodAutoscaler](objs) || has[*ScaledObject](objs) {
		if minReplicas < 2 {
			t.Errorf("minReplicas %d: with maxUnavailable 1 in the PDB, one replica would leave nothing serving", minReplicas)
		}
		if d.Spec.Replicas != nil {
			t.Error("with an autoscaler the Deployment must not set replicas (each apply would reset the scale)")
		}
	} else if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Error("without an autoscaler, run at least 2 replicas")
	}
	if has[*monitoringv1.ServiceMonitor](objs) {
		sm := one[*monitoringv1.ServiceMonitor](t, objs)
		if !matches(t, &sm.Spec.Selector, svc.Labels) {
			t.Error("ServiceMonitor does not select the Service")
		}
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name || sm.Spec.Endpoints[0].Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoints %+v", sm.Spec.Endpoints)
		}
	}
}

// TestOverlays renders the base and every overlay with kustomize and checks each result.
func TestOverlays(t *testing.T) {
	for dir, want := range map[string][]string{
		"base":                        {"apps/v1/Deployment", "v1/Service", "policy/v1/PodDisruptionBudget"},
		"overlays/prometheus-adapter": {"apps/v1/Deployment", "v1/Service", "policy/v1/PodDisruptionBudget", "autoscaling/v2/HorizontalPodAutoscaler", "monitoring.coreos.com/v1/ServiceMonitor"},
		"overlays/keda":               {"apps/v1/Deployment", "v1/Service", "policy/v1/PodDisruptionBudget", "keda.sh/v1alpha1/ScaledObject", "monitoring.coreos.com/v1/ServiceMonitor"},
		"overlays/bf16":               {"apps/v1/Deployment", "v1/Service", "policy/v1/PodDisruptionBudget", "autoscaling/v2/HorizontalPodAutoscaler", "monitoring.coreos.com/v1/ServiceMonitor"},
		"overlays/int8":               {"apps/v1/Deployment", "v1/Service", "policy/v1/PodDisruptionBudget", "autoscaling/v2/HorizontalPodAutoscaler", "monitoring.coreos.com/v1/ServiceMonitor"},
		"overlays/two-stage":          {"apps/v1/Deployment", "v1/Service", "policy/v1/PodDisruptionBudget", "autoscaling/v2/HorizontalPodAutoscaler", "monitoring.coreos.com/v1/ServiceMonitor"},
	} {
		t.Run(strings.ReplaceAll(dir, "/", "_"), func(t *testing.T) {
			objs := render(t, dir)
			var kinds []string
			for _, o := range objs {
				kinds = append(kinds, o.Kind)
			}
			slices.Sort(kinds)
			slices.Sort(want)
			if !slices.Equal(kinds, want) {
				t.Fatalf("kinds %v, want %v", kinds, want)
			}
			checkInstallation(t, objs)
			if dir == "overlays/two-stage" {
				_, f := flags(t, one[*appsv1.Deployment](t, objs).Spec.Template.Spec.Containers[0].Args)
				if f["model"] != "BAAI/bge-reranker-v2-m3,BAAI/bge-m3" {
					t.Errorf("two-stage overlay serves %q", f["model"])
				}
			}
			if d, ok := strings.CutPrefix(dir, "overlays/"); ok && (d == "bf16" || d == "int8") {
				_, f := flags(t, one[*appsv1.Deployment](t, objs).Spec.Template.Spec.Containers[0].Args)
				if f["dtype"] != d {
					t.Errorf("%s overlay: --dtype %q", d, f["dtype"])
				}
			}
		})
	}
}

var metricName = regexp.MustCompile(`\brerank_[a-z0-9_]+`)

// TestMetricNamesExist: every rerank_* metric the manifests and the adapter rule name is
// served by the real `rerank serve` at /metrics; the HPA's metric is one the adapter makes.
func TestMetricNamesExist(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs rerank serve")
	}
	b, err := os.ReadFile(adapterValues)
	if err != nil {
		t.Fatal(err)
	}
	av, err := DecodeAdapterValues(b)
	if err != nil {
		t.Fatal(err)
	}
	made := map[string]bool{} // names the adapter serves to the HPA
	for _, r := range av.Rules.Custom {
		series := metricName.FindString(r.SeriesQuery)
		if ok, err := regexp.MatchString(r.Name.Matches, series); err != nil || !ok || r.Name.As == "" {
			t.Errorf("adapter rule: name.matches %q does not match its series %q (or no name.as)", r.Name.Matches, series)
		}
		if !strings.Contains(r.MetricsQuery, "<<.Series>>") || !strings.Contains(r.MetricsQuery, "<<.LabelMatchers>>") {
			t.Errorf("adapter metricsQuery %q lacks <<.Series>> or <<.LabelMatchers>>", r.MetricsQuery)
		}
		made[r.Name.As] = true
	}
	for _, dir := range []string{"overlays/prometheus-adapter", "overlays/bf16", "overlays/int8"} {
		h := one[*autoscalingv2.HorizontalPodAutoscaler](t, render(t, dir))
		for _, m := range h.Spec.Metrics {
			if m.Type != autoscalingv2.PodsMetricSourceType || m.Pods == nil || !made[m.Pods.Metric.Name] {
				t.Errorf("%s: HPA metric %+v is not one the prometheus-adapter rule makes", dir, m)
			}
		}
	}

	used := map[string][]string{}
	for _, f := range yamlFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range metricName.FindAllString(string(b), -1) {
			if !made[n] {
				used[n] = append(used[n], f)
			}
		}
	}
	if len(used) == 0 {
		t.Fatal("no rerank_* metric found in the manifests")
	}

	srv, err := testbin.Serve("--cache-size", "0", "--no-warmup")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// one scoring request, so that the labelled series and histograms have samples
	resp, err := http.Post(srv.Base+"/v1/rerank", "application/json",
		strings.NewReader(`{"query": "capital of China", "documents": ["Beijing.", "Paris."]}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("rerank: %d", resp.StatusCode)
	}
	resp, err = http.Get(srv.Base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	served := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		// # TYPE name counter|gauge|histogram|summary
		fields := strings.Fields(sc.Text())
		if len(fields) == 4 && fields[0] == "#" && fields[1] == "TYPE" {
			served[fields[2]] = true
			if fields[3] == "histogram" || fields[3] == "summary" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					served[fields[2]+s] = true
				}
			}
		}
	}
	if !served["rerank_queue_depth"] {
		t.Fatalf("/metrics has no rerank_queue_depth; served: %v", served)
	}
	for n, files := range used {
		if !served[n] {
			t.Errorf("%s (used in %v) is not in /metrics", n, files)
		}
	}
	t.Logf("rerank_* metrics the manifests use: %v", slices.Sorted(func(yield func(string) bool) {
		for n := range used {
			if !yield(n) {
				return
			}
		}
	}))
}
