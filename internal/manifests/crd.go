package manifests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// CRDsDirEnv names the folder of CustomResourceDefinitions to validate CRD-backed objects with.
// When unset, CRDsDir looks for ../shared/crds next to the module root.
const CRDsDirEnv = "ORDERSAGA_CRDS_DIR"

// ErrNoCRDs says the CRD folder is absent. Callers outside CI may skip the schema checks on it;
// under CI=true FindCRDs never returns it but fails instead.
var ErrNoCRDs = errors.New("manifests: CRD folder not found")

// CRDs holds the structural schemas of the CRD-backed kinds, by group/version/kind.
type CRDs struct {
	Dir     string
	schemas map[schema.GroupVersionKind]*crdVersion
}

type crdVersion struct {
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

// CRDsDir is the folder CRDs are read from: $ORDERSAGA_CRDS_DIR, else ../shared/crds relative to
// the root of the module that contains the working directory.
func CRDsDir() (string, error) {
	if dir := os.Getenv(CRDsDirEnv); dir != "" {
		return dir, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "..", "shared", "crds"), nil
}

// ModuleRoot is the nearest folder at or above the working directory holding a go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("manifests: no go.mod at or above the working directory")
		}
		dir = parent
	}
}

// FindCRDs loads the CRDs from CRDsDir. When the folder is absent it returns ErrNoCRDs, unless
// CI=true, where the absence is an error of its own (CI always has them).
func FindCRDs() (*CRDs, error) {
	dir, err := CRDsDir()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if os.Getenv("CI") == "true" {
			return nil, fmt.Errorf("manifests: CRD folder %s is missing (set %s); CI=true requires the CRD schema checks", dir, CRDsDirEnv)
		}
		return nil, fmt.Errorf("%w at %s (set %s)", ErrNoCRDs, dir, CRDsDirEnv)
	}
	return LoadCRDs(dir)
}

// LoadCRDs reads every CustomResourceDefinition in dir (*.yaml) and prepares the schema of each
// served version for validation, as the API server would: structural schema, OpenAPI validation
// and the x-kubernetes-validations CEL rules.
func LoadCRDs(dir string) (*CRDs, error) {
	files, err := manifestFiles(dir)
	if err != nil {
		return nil, err
	}
	c := &CRDs{Dir: dir, schemas: map[schema.GroupVersionKind]*crdVersion{}}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if crd.Kind != "CustomResourceDefinition" {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			cv, err := newCRDVersion(v.Schema.OpenAPIV3Schema)
			if err != nil {
				return nil, fmt.Errorf("%s version %s: %w", file, v.Name, err)
			}
			c.schemas[schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}] = cv
		}
	}
	return c, nil
}

func newCRDVersion(v1props *apiextensionsv1.JSONSchemaProps) (*crdVersion, error) {
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1props, internal, nil); err != nil {
		return nil, err
	}
	structural, err := structuralschema.NewStructural(internal)
	if err != nil {
		return nil, err
	}
	validator, _, err := apiservervalidation.NewSchemaValidator(internal)
	if err != nil {
		return nil, err
	}
	return &crdVersion{
		structural: structural,
		validator:  validator,
		cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
	}, nil
}

// Has reports whether the CRDs define gvk.
func (c *CRDs) Has(gvk schema.GroupVersionKind) bool {
	_, ok := c.schemas[gvk]
	return ok
}

// Validate checks u against the schema of its kind: unknown fields (as the API server's pruning
// would drop them), the OpenAPI schema, and the CEL validation rules.
func (c *CRDs) Validate(ctx context.Context, u *unstructured.Unstructured) error {
	gvk := u.GroupVersionKind()
	cv, ok := c.schemas[gvk]
	if !ok {
		return fmt.Errorf("no CRD in %s serves %s", c.Dir, gvk)
	}
	obj := runtime.DeepCopyJSON(u.Object)
	var errs field.ErrorList
	unknown := pruning.PruneWithOptions(obj, cv.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, path := range unknown {
		// metadata is checked by strict decoding into ObjectMeta; pruning does not descend into it.
		if !strings.HasPrefix(path, "metadata.") {
			errs = append(errs, field.Forbidden(field.NewPath(path), "unknown field"))
		}
	}
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, u.Object, cv.validator)...)
	if cv.cel != nil {
		celErrs, _ := cv.cel.Validate(ctx, nil, cv.structural, u.Object, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	return errs.ToAggregate()
}
