package manifests_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"sigs.k8s.io/yaml"
)

// pinned is an image reference by digest: name[:tag]@sha256:<64 hex>.
var pinned = regexp.MustCompile(`^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$`)

// A base image named by tag alone is whatever the registry serves that day: every build must
// take the one reviewed in ko.yaml.
func TestKoBaseImageIsPinnedByDigest(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "ko.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ko struct {
		DefaultBaseImage   string            `json:"defaultBaseImage"`
		BaseImageOverrides map[string]string `json:"baseImageOverrides"`
	}
	if err := yaml.Unmarshal(data, &ko); err != nil {
		t.Fatal(err)
	}
	if !pinned.MatchString(ko.DefaultBaseImage) {
		t.Errorf("defaultBaseImage %q is not pinned by digest (name@sha256:...)", ko.DefaultBaseImage)
	}
	for pkg, image := range ko.BaseImageOverrides {
		if !pinned.MatchString(image) {
			t.Errorf("baseImageOverrides[%s] %q is not pinned by digest", pkg, image)
		}
	}
	for _, ref := range []string{"cgr.dev/chainguard/static:latest", "gcr.io/distroless/static@sha256:abc"} {
		if pinned.MatchString(ref) {
			t.Errorf("%q passes as pinned", ref)
		}
	}
}
