// Package manifests reads what a cluster applies (config/ and triggers/) into the Go types of the
// projects that define each kind: Knative Eventing (Broker, Trigger, PingSource, EventPolicy),
// Knative Serving (Service), Kubernetes core (Namespace, ConfigMap, Secret, ServiceAccount) and
// networking (NetworkPolicy), and
// unstructured objects for the CRD-backed kinds this project has no Go types for (KafkaSource,
// Strimzi KafkaTopic, CloudNativePG Cluster). Decoding is strict: an unknown or duplicated field is
// an error, as is a kind nobody checks. Validate then runs each type's own webhook validation and
// checks the CRD-backed objects against their CRDs' openAPIV3Schema.
//
// The deployment tests and the local stack share it, so that local routing reads the very YAML a
// cluster applies. It imports Knative and Kubernetes packages: function binaries must not import it.
package manifests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/yaml"
)

// Kinds handled by this package, by group/version and kind.
var (
	GVKNamespace      = corev1.SchemeGroupVersion.WithKind("Namespace")
	GVKConfigMap      = corev1.SchemeGroupVersion.WithKind("ConfigMap")
	GVKSecret         = corev1.SchemeGroupVersion.WithKind("Secret")
	GVKServiceAccount = corev1.SchemeGroupVersion.WithKind("ServiceAccount")
	GVKBroker         = eventingv1.SchemeGroupVersion.WithKind("Broker")
	GVKTrigger        = eventingv1.SchemeGroupVersion.WithKind("Trigger")
	GVKEventPolicy    = eventingv1alpha1.SchemeGroupVersion.WithKind("EventPolicy")
	GVKPingSource     = sourcesv1.SchemeGroupVersion.WithKind("PingSource")
	GVKService        = servingv1.SchemeGroupVersion.WithKind("Service")
	GVKNetworkPolicy  = networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy")

	// CRD-backed kinds, decoded as unstructured and validated against their CRDs.
	GVKKafkaSource       = schema.GroupVersionKind{Group: "sources.knative.dev", Version: "v1beta1", Kind: "KafkaSource"}
	GVKKafkaSourceV1     = schema.GroupVersionKind{Group: "sources.knative.dev", Version: "v1", Kind: "KafkaSource"}
	GVKKafkaTopic        = schema.GroupVersionKind{Group: "kafka.strimzi.io", Version: "v1", Kind: "KafkaTopic"}
	GVKKafkaTopicV1beta2 = schema.GroupVersionKind{Group: "kafka.strimzi.io", Version: "v1beta2", Kind: "KafkaTopic"}
	GVKPostgresCluster   = schema.GroupVersionKind{Group: "postgresql.cnpg.io", Version: "v1", Kind: "Cluster"}
	unstructuredKinds    = []schema.GroupVersionKind{GVKKafkaSource, GVKKafkaSourceV1, GVKKafkaTopic, GVKKafkaTopicV1beta2, GVKPostgresCluster}
	errNotAnObject       = errors.New("not a Kubernetes object (apiVersion and kind are required)")
	errUnknownKind       = errors.New("kind not known to the manifest checks")
	clusterScopedKinds   = map[schema.GroupVersionKind]bool{GVKNamespace: true}
	manifestFileSuffixes = []string{".yaml", ".yml"}
)

// Object is one YAML document: where it came from, what it is, and its decoded value (a pointer to
// the typed struct, or *unstructured.Unstructured for CRD-backed kinds).
type Object struct {
	File      string // path of the file, as found under the loaded folder
	Doc       int    // 1-based index of the document in the file
	GVK       schema.GroupVersionKind
	Namespace string
	Name      string
	Value     any
}

// String names the object for messages: "Trigger ordersaga/inventory-order-requested (triggers/inventory.yaml#1)".
func (o Object) String() string {
	id := o.Name
	if o.Namespace != "" {
		id = o.Namespace + "/" + o.Name
	}
	return fmt.Sprintf("%s %s (%s#%d)", o.GVK.Kind, id, o.File, o.Doc)
}

// Set is every object of the loaded folders, in file order, with typed views by kind.
type Set struct {
	Objects []Object

	Namespaces      []*corev1.Namespace
	ConfigMaps      []*corev1.ConfigMap
	Secrets         []*corev1.Secret
	ServiceAccounts []*corev1.ServiceAccount
	Brokers         []*eventingv1.Broker
	Triggers        []*eventingv1.Trigger
	EventPolicies   []*eventingv1alpha1.EventPolicy
	PingSources     []*sourcesv1.PingSource
	Services        []*servingv1.Service
	NetworkPolicies []*networkingv1.NetworkPolicy
	KafkaSources    []*KafkaSource
	KafkaUsers      []*KafkaUser
	// Unstructured holds every CRD-backed object (KafkaSources included), as written.
	Unstructured []*unstructured.Unstructured
}

// Load reads every *.yaml and *.yml file under dirs (recursively, in lexical order) and decodes
// each document strictly into its kind's Go type. Empty documents are skipped. All problems are
// reported together.
func Load(dirs ...string) (*Set, error) {
	s := &Set{}
	var errs []error
	for _, dir := range dirs {
		files, err := manifestFiles(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			errs = append(errs, s.add(file, data)...)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Parse decodes the YAML documents in data as if read from a file named name.
func Parse(name string, data []byte) (*Set, error) {
	s := &Set{}
	if err := errors.Join(s.add(name, data)...); err != nil {
		return nil, err
	}
	return s, nil
}

func manifestFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		for _, suffix := range manifestFileSuffixes {
			if strings.HasSuffix(path, suffix) {
				files = append(files, path)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("manifests: %w", err)
	}
	sort.Strings(files)
	return files, nil
}

// add decodes every document of one file.
func (s *Set) add(file string, data []byte) []error {
	var errs []error
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for doc := 1; ; doc++ {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s#%d: %w", file, doc, err))
			break
		}
		if isEmptyDocument(raw) {
			continue
		}
		obj, err := decode(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s#%d: %w", file, doc, err))
			continue
		}
		obj.File, obj.Doc = file, doc
		s.index(obj)
	}
	return errs
}

func isEmptyDocument(raw []byte) bool {
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && line != "---" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

// decode reads one document strictly into the Go type of its kind.
func decode(raw []byte) (Object, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(raw, &tm); err != nil {
		return Object{}, err
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return Object{}, errNotAnObject
	}
	gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
	var value any
	switch gvk {
	case GVKNamespace:
		value = &corev1.Namespace{}
	case GVKConfigMap:
		value = &corev1.ConfigMap{}
	case GVKSecret:
		value = &corev1.Secret{}
	case GVKServiceAccount:
		value = &corev1.ServiceAccount{}
	case GVKBroker:
		value = &eventingv1.Broker{}
	case GVKTrigger:
		value = &eventingv1.Trigger{}
	case GVKEventPolicy:
		value = &eventingv1alpha1.EventPolicy{}
	case GVKPingSource:
		value = &sourcesv1.PingSource{}
	case GVKService:
		value = &servingv1.Service{}
	case GVKNetworkPolicy:
		value = &networkingv1.NetworkPolicy{}
	case GVKKafkaUser:
		value = &KafkaUser{}
	default:
		if !isUnstructuredKind(gvk) {
			return Object{}, fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, errUnknownKind)
		}
		return decodeUnstructured(raw, gvk)
	}
	if err := yaml.UnmarshalStrict(raw, value); err != nil {
		return Object{}, fmt.Errorf("%s: %w", gvk.Kind, err)
	}
	meta := value.(metav1.Object)
	return Object{GVK: gvk, Namespace: meta.GetNamespace(), Name: meta.GetName(), Value: value}, nil
}

func isUnstructuredKind(gvk schema.GroupVersionKind) bool {
	for _, k := range unstructuredKinds {
		if k == gvk {
			return true
		}
	}
	return false
}

// decodeUnstructured reads a CRD-backed object. Its metadata is decoded strictly into ObjectMeta;
// the rest is checked against the CRD schema by Validate (unknown fields included).
func decodeUnstructured(raw []byte, gvk schema.GroupVersionKind) (Object, error) {
	js, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		return Object{}, fmt.Errorf("%s: %w", gvk.Kind, err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		return Object{}, fmt.Errorf("%s: %w", gvk.Kind, err)
	}
	if m, ok := u.Object["metadata"]; ok {
		mj, err := yaml.Marshal(m)
		if err != nil {
			return Object{}, fmt.Errorf("%s metadata: %w", gvk.Kind, err)
		}
		if err := yaml.UnmarshalStrict(mj, &metav1.ObjectMeta{}); err != nil {
			return Object{}, fmt.Errorf("%s metadata: %w", gvk.Kind, err)
		}
	}
	return Object{GVK: gvk, Namespace: u.GetNamespace(), Name: u.GetName(), Value: u}, nil
}

func (s *Set) index(o Object) {
	s.Objects = append(s.Objects, o)
	switch v := o.Value.(type) {
	case *corev1.Namespace:
		s.Namespaces = append(s.Namespaces, v)
	case *corev1.ConfigMap:
		s.ConfigMaps = append(s.ConfigMaps, v)
	case *corev1.Secret:
		s.Secrets = append(s.Secrets, v)
	case *corev1.ServiceAccount:
		s.ServiceAccounts = append(s.ServiceAccounts, v)
	case *eventingv1.Broker:
		s.Brokers = append(s.Brokers, v)
	case *eventingv1.Trigger:
		s.Triggers = append(s.Triggers, v)
	case *eventingv1alpha1.EventPolicy:
		s.EventPolicies = append(s.EventPolicies, v)
	case *sourcesv1.PingSource:
		s.PingSources = append(s.PingSources, v)
	case *servingv1.Service:
		s.Services = append(s.Services, v)
	case *networkingv1.NetworkPolicy:
		s.NetworkPolicies = append(s.NetworkPolicies, v)
	case *KafkaUser:
		s.KafkaUsers = append(s.KafkaUsers, v)
	case *unstructured.Unstructured:
		s.Unstructured = append(s.Unstructured, v)
		if o.GVK.GroupKind() == GVKKafkaSource.GroupKind() {
			s.KafkaSources = append(s.KafkaSources, newKafkaSource(v))
		}
	}
}

// Find returns the object of the given kind (apiVersion as written in a reference, e.g.
// "serving.knative.dev/v1") in namespace with name.
func (s *Set) Find(apiVersion, kind, namespace, name string) (Object, bool) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return Object{}, false
	}
	for _, o := range s.Objects {
		if o.GVK.Group == gv.Group && (gv.Version == "" || o.GVK.Version == gv.Version) &&
			o.GVK.Kind == kind && o.Name == name && o.Namespace == namespace {
			return o, true
		}
	}
	return Object{}, false
}

// Service returns the Knative Service namespace/name.
func (s *Set) Service(namespace, name string) (*servingv1.Service, bool) {
	for _, svc := range s.Services {
		if svc.Namespace == namespace && svc.Name == name {
			return svc, true
		}
	}
	return nil, false
}
