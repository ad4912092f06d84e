package manifests

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/yaml"
)

// FuncYAML is the subset of knative/func's func.yaml (schema/func_yaml-schema.json, specVersion
// 0.36.0) that this project writes. Decoding is strict, so a field func does not know, or one
// this subset leaves out, is an error rather than silently ignored.
type FuncYAML struct {
	SpecVersion string        `json:"specVersion"`
	Name        string        `json:"name"`
	Runtime     string        `json:"runtime"`
	Registry    string        `json:"registry,omitempty"`
	Image       string        `json:"image,omitempty"`
	Namespace   string        `json:"namespace,omitempty"`
	Created     string        `json:"created"`
	Invoke      string        `json:"invoke,omitempty"`
	Build       FuncBuildSpec `json:"build,omitempty"`
	Run         FuncRunSpec   `json:"run,omitempty"`
	Deploy      FuncDeploy    `json:"deploy,omitempty"`
}

// FuncBuildSpec is func.yaml's build section.
type FuncBuildSpec struct {
	Builder   string    `json:"builder,omitempty"`
	BuildEnvs []FuncEnv `json:"buildEnvs,omitempty"`
}

// FuncRunSpec is func.yaml's run section.
type FuncRunSpec struct {
	Envs []FuncEnv `json:"envs,omitempty"`
}

// FuncEnv is one environment variable. Value may be a literal or a func template:
// {{ env:NAME }}, {{ secret:name:key }}, {{ configMap:name:key }}, or, without Name,
// {{ secret:name }} / {{ configMap:name }} for all keys.
type FuncEnv struct {
	Name  string `json:"name,omitempty"`
	Value string `json:"value"`
}

// FuncDeploy is func.yaml's deploy section.
type FuncDeploy struct {
	Namespace          string              `json:"namespace,omitempty"`
	Image              string              `json:"image,omitempty"`
	Annotations        map[string]string   `json:"annotations,omitempty"`
	Options            FuncOptions         `json:"options,omitempty"`
	Labels             []FuncLabel         `json:"labels,omitempty"`
	HealthEndpoints    FuncHealthEndpoints `json:"healthEndpoints,omitempty"`
	ServiceAccountName string              `json:"serviceAccountName,omitempty"`
}

// FuncLabel is one label func puts on the deployed Service.
type FuncLabel struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// FuncHealthEndpoints are the probe paths func configures.
type FuncHealthEndpoints struct {
	Liveness  string `json:"liveness,omitempty"`
	Readiness string `json:"readiness,omitempty"`
}

// FuncOptions are the deployed Service's scale and resources; func writes scale to the
// revision template's autoscaling annotations, where Knative reads them.
type FuncOptions struct {
	Scale     *FuncScale     `json:"scale,omitempty"`
	Resources *FuncResources `json:"resources,omitempty"`
}

// FuncScale is deploy.options.scale.
type FuncScale struct {
	Min         *int64   `json:"min,omitempty"`
	Max         *int64   `json:"max,omitempty"`
	Metric      string   `json:"metric,omitempty"`
	Target      *float64 `json:"target,omitempty"`
	Utilization *float64 `json:"utilization,omitempty"`
}

// FuncResources is deploy.options.resources.
type FuncResources struct {
	Requests *FuncResourceList `json:"requests,omitempty"`
	Limits   *FuncResourceList `json:"limits,omitempty"`
}

// FuncResourceList is a requests or limits block; Concurrency (limits only) becomes the
// revision's containerConcurrency.
type FuncResourceList struct {
	CPU         string `json:"cpu,omitempty"`
	Memory      string `json:"memory,omitempty"`
	Concurrency *int64 `json:"concurrency,omitempty"`
}

// FuncSpecVersion is the func.yaml specVersion this project writes.
const FuncSpecVersion = "0.36.0"

// FunctionEnv names the environment variable that tells the module's root package (what func
// builds) which function to serve.
const FunctionEnv = "ORDERSAGA_FUNCTION"

var (
	funcNamePattern     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	funcEnvNamePattern  = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)
	funcLabelKeyPattern = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	funcLabelValPattern = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
	funcQuantityPattern = regexp.MustCompile(`^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$`)
)

// ParseFuncYAML decodes a func.yaml strictly and checks it against func's schema: required
// fields, enums and patterns. The schema's builder enum lists pack and s2i; host (func's builder
// for Go that needs neither Docker nor buildpacks) is accepted too.
func ParseFuncYAML(data []byte) (*FuncYAML, error) {
	var f FuncYAML
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("func.yaml: %w", err)
	}
	return &f, f.Validate()
}

// Validate checks f against func's schema.
func (f *FuncYAML) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("func.yaml: "+format, args...)) }
	if f.SpecVersion == "" {
		bad("specVersion is required")
	}
	if f.Created == "" {
		bad("created is required")
	} else if _, err := time.Parse(time.RFC3339Nano, f.Created); err != nil {
		bad("created %q is not a date-time: %v", f.Created, err)
	}
	if f.Name != "" && !funcNamePattern.MatchString(f.Name) {
		bad("name %q does not match %s", f.Name, funcNamePattern)
	}
	switch f.Invoke {
	case "", "http", "cloudevent":
	default:
		bad("invoke %q: want http or cloudevent", f.Invoke)
	}
	switch f.Build.Builder {
	case "", "pack", "s2i", "host":
	default:
		bad("build.builder %q: want host, pack or s2i", f.Build.Builder)
	}
	for _, e := range append(append([]FuncEnv{}, f.Build.BuildEnvs...), f.Run.Envs...) {
		if e.Name != "" && !funcEnvNamePattern.MatchString(e.Name) {
			bad("env name %q does not match %s", e.Name, funcEnvNamePattern)
		}
	}
	for _, l := range f.Deploy.Labels {
		if !funcLabelKeyPattern.MatchString(l.Key) {
			bad("deploy.labels key %q is not a label key", l.Key)
		}
		if !funcLabelValPattern.MatchString(l.Value) {
			bad("deploy.labels value %q is not a label value", l.Value)
		}
	}
	if s := f.Deploy.Options.Scale; s != nil {
		switch s.Metric {
		case "", "concurrency", "rps":
		default:
			bad("deploy.options.scale.metric %q: want concurrency or rps", s.Metric)
		}
		if (s.Min != nil && *s.Min < 0) || (s.Max != nil && *s.Max < 0) || (s.Target != nil && *s.Target < 0) {
			bad("deploy.options.scale: min, max and target must not be negative")
		}
		if s.Utilization != nil && (*s.Utilization < 1 || *s.Utilization > 100) {
			bad("deploy.options.scale.utilization must be within 1..100")
		}
	}
	if r := f.Deploy.Options.Resources; r != nil {
		for what, l := range map[string]*FuncResourceList{"requests": r.Requests, "limits": r.Limits} {
			if l == nil {
				continue
			}
			for _, q := range []string{l.CPU, l.Memory} {
				if q != "" && !funcQuantityPattern.MatchString(q) {
					bad("deploy.options.resources.%s: %q is not a quantity", what, q)
				}
			}
			if l.Concurrency != nil && (what == "requests" || *l.Concurrency < 0) {
				bad("deploy.options.resources.%s.concurrency is only for limits, at least 0", what)
			}
		}
	}
	return errors.Join(errs...)
}

// FuncYAMLFor derives the func.yaml that deploys the same function as svc (a Service of
// config/): its name and namespace, its env as func templates over the same ConfigMaps and
// Secrets, its labels, scale, resources and probe paths, and FunctionEnv naming the function the
// root package is to serve. created is fixed so that the output is reproducible.
func FuncYAMLFor(svc *servingv1.Service, created time.Time) (*FuncYAML, error) {
	spec := svc.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		return nil, fmt.Errorf("service %s: want exactly one container, have %d", svc.Name, len(spec.Containers))
	}
	c := spec.Containers[0]
	f := &FuncYAML{
		SpecVersion: FuncSpecVersion,
		Name:        svc.Name,
		Runtime:     "go",
		Namespace:   svc.Namespace,
		Created:     created.UTC().Format(time.RFC3339),
		Invoke:      "http",
		Build:       FuncBuildSpec{Builder: "host"},
	}
	f.Run.Envs = append(f.Run.Envs, FuncEnv{Name: FunctionEnv, Value: svc.Name})
	for _, e := range c.Env {
		fe, err := funcEnv(e)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", svc.Name, err)
		}
		f.Run.Envs = append(f.Run.Envs, fe)
	}
	keys := make([]string, 0, len(svc.Labels))
	for k := range svc.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f.Deploy.Labels = append(f.Deploy.Labels, FuncLabel{Key: k, Value: svc.Labels[k]})
	}
	if c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil {
		f.Deploy.HealthEndpoints.Liveness = c.LivenessProbe.HTTPGet.Path
	}
	if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil {
		f.Deploy.HealthEndpoints.Readiness = c.ReadinessProbe.HTTPGet.Path
	}
	scale, err := funcScale(svc.Spec.Template.Annotations)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", svc.Name, err)
	}
	f.Deploy.Options.Scale = scale
	res := &FuncResources{Requests: funcResourceList(c.Resources.Requests), Limits: funcResourceList(c.Resources.Limits)}
	if cc := spec.ContainerConcurrency; cc != nil {
		if res.Limits == nil {
			res.Limits = &FuncResourceList{}
		}
		res.Limits.Concurrency = cc
	}
	if res.Requests != nil || res.Limits != nil {
		f.Deploy.Options.Resources = res
	}
	return f, f.Validate()
}

func funcEnv(e corev1.EnvVar) (FuncEnv, error) {
	switch {
	case e.ValueFrom == nil:
		return FuncEnv{Name: e.Name, Value: e.Value}, nil
	case e.ValueFrom.ConfigMapKeyRef != nil:
		r := e.ValueFrom.ConfigMapKeyRef
		return FuncEnv{Name: e.Name, Value: fmt.Sprintf("{{ configMap:%s:%s }}", r.Name, r.Key)}, nil
	case e.ValueFrom.SecretKeyRef != nil:
		r := e.ValueFrom.SecretKeyRef
		return FuncEnv{Name: e.Name, Value: fmt.Sprintf("{{ secret:%s:%s }}", r.Name, r.Key)}, nil
	}
	return FuncEnv{}, fmt.Errorf("env %s: func.yaml can only take values, ConfigMap keys and Secret keys", e.Name)
}

func funcScale(annotations map[string]string) (*FuncScale, error) {
	var s FuncScale
	var errs []error
	integer := func(key string) *int64 {
		v, ok := annotations[key]
		if !ok {
			return nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
			return nil
		}
		return &n
	}
	s.Min = integer("autoscaling.knative.dev/min-scale")
	s.Max = integer("autoscaling.knative.dev/max-scale")
	s.Metric = annotations["autoscaling.knative.dev/metric"]
	if v, ok := annotations["autoscaling.knative.dev/target"]; ok {
		t, err := strconv.ParseFloat(v, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("autoscaling.knative.dev/target: %w", err))
		}
		s.Target = &t
	}
	if s == (FuncScale{}) {
		return nil, errors.Join(errs...)
	}
	return &s, errors.Join(errs...)
}

func funcResourceList(l corev1.ResourceList) *FuncResourceList {
	if len(l) == 0 {
		return nil
	}
	r := &FuncResourceList{}
	if q, ok := l[corev1.ResourceCPU]; ok {
		r.CPU = q.String()
	}
	if q, ok := l[corev1.ResourceMemory]; ok {
		r.Memory = q.String()
	}
	return r
}

// Marshal writes f as YAML under header (comment lines, each starting with "# ").
func (f *FuncYAML) Marshal(header string) ([]byte, error) {
	out, err := yaml.Marshal(f)
	if err != nil {
		return nil, err
	}
	return append([]byte(header), out...), nil
}

// FuncYAMLCreated is the fixed creation time written into generated func.yaml files.
var FuncYAMLCreated = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

// FuncYAMLHeader is the comment on top of every generated func.yaml.
const FuncYAMLHeader = `# knative/func configuration, generated from config/ by
#   go run ./internal/manifests/funcyaml -function <name>
# func builds the module's root package (its New() serves the function named by
# ORDERSAGA_FUNCTION) with the host builder and deploys it as the Knative Service <name>, with the
# same env, scale, resources and probes as config/. This root copy is the order function;
# ` + "`make func-deploy`" + ` stages one copy of the module per function (see README).
`

// RootFuncYAML is the func.yaml, as YAML, for the function named name in the Services under
// configDir.
func RootFuncYAML(configDir, name string) ([]byte, error) {
	set, err := Load(configDir)
	if err != nil {
		return nil, err
	}
	for _, svc := range set.Services {
		if svc.Name == name {
			f, err := FuncYAMLFor(svc, FuncYAMLCreated)
			if err != nil {
				return nil, err
			}
			return f.Marshal(FuncYAMLHeader)
		}
	}
	return nil, fmt.Errorf("no Service %q in %s", name, configDir)
}
