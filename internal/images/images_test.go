package images_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"sigs.k8s.io/yaml"

	"github.com/ordersaga/ordersaga/internal/images"
)

const module = "github.com/ordersaga/ordersaga"

// TestImagesOffline runs `make images` against a registry of its own (go-containerregistry's,
// the code `crane registry serve` runs) and checks every image the release YAML names, from the
// registry: pinned by digest, built for ko.yaml's platforms on the local base, running as the
// nonroot user with its function's binary as entry point, and an SBOM naming this module.
//
// It needs ko and crane, which `make tools` installs from the Go module proxy; where that
// cannot be reached the test is skipped, except under CI=true, where it fails. It builds every
// function for every platform: minutes, not seconds (docs/security/supply-chain.md).
func TestImagesOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every image; not in -short")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := runMake(root, "tools"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("make tools: %v\n%s", err, out)
		}
		t.Skipf("ko and crane cannot be installed here: %v\n%s", err, out)
	}

	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	outDir := t.TempDir()
	if out, err := runMake(root, "images", "IMAGES_REGISTRY="+host, "IMAGES_OUT="+outDir); err != nil {
		t.Fatalf("make images: %v\n%s", err, out)
	}

	ctx := context.Background()
	platforms := koPlatforms(t, root)
	base := readBase(t, ctx, filepath.Join(outDir, "base.txt"), host)
	release, err := os.ReadFile(filepath.Join(outDir, "release.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(release, []byte("ko://")) {
		t.Errorf("release.yaml still has ko:// references")
	}
	resolved := resolvedImages(t, release)
	wanted := koReferences(t, root)
	if len(wanted) == 0 {
		t.Fatal("config/ names no ko:// image")
	}
	for _, fn := range wanted {
		ref, ok := resolved[fn]
		if !ok {
			t.Errorf("%s: not in release.yaml (resolved: %v)", fn, resolved)
			continue
		}
		t.Run(fn, func(t *testing.T) {
			checkImage(t, ctx, fn, ref, host, platforms, base, filepath.Join(outDir, "sbom"))
		})
	}
	if len(resolved) != len(wanted) {
		t.Errorf("release.yaml names %d images, config/ %d", len(resolved), len(wanted))
	}
}

// checkImage checks one function's image index and each of its platform images.
func checkImage(t *testing.T, ctx context.Context, fn string, ref name.Digest, host string, platforms []v1.Platform, base map[string]v1.Hash, sbomDir string) {
	if ref.RegistryStr() != host || ref.RepositoryStr() != "ordersaga/"+fn {
		t.Errorf("image %s: want it in %s/ordersaga/%s", ref, host, fn)
	}
	index, err := remote.Index(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, desc := range manifest.Manifests {
		if desc.Platform == nil {
			t.Errorf("%s: manifest %s has no platform", ref, desc.Digest)
			continue
		}
		p := desc.Platform.String()
		got = append(got, p)
		img, err := remote.Image(ref.Context().Digest(desc.Digest.String()), remote.WithContext(ctx))
		if err != nil {
			t.Fatalf("%s %s: %v", ref, p, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if uid := userID(cfg.Config.User); uid != images.NonRootUID {
			t.Errorf("%s: runs as %q, want uid %d", p, cfg.Config.User, images.NonRootUID)
		}
		if want := []string{"/ko-app/" + fn}; !slices.Equal(cfg.Config.Entrypoint, want) {
			t.Errorf("%s: entrypoint %q, want %q", p, cfg.Config.Entrypoint, want)
		}
		if cfg.OS+"/"+cfg.Architecture != p {
			t.Errorf("%s: config says %s/%s", p, cfg.OS, cfg.Architecture)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		if len(layers) == 0 {
			t.Fatalf("%s: no layers", p)
		}
		first, err := layers[0].Digest()
		if err != nil {
			t.Fatal(err)
		}
		if first != base[p] {
			t.Errorf("%s: first layer %s is not the local base's %s", p, first, base[p])
		}
		file, err := os.ReadFile(filepath.Join(sbomDir, fn+"-"+strings.ReplaceAll(p, "/", "-")+".spdx.json"))
		if err != nil {
			t.Errorf("%s: SBOM file: %v", p, err)
		} else {
			checkSBOM(t, p+" SBOM file", file, desc.Digest)
		}
		checkSBOM(t, p+" SBOM in the registry", attachedSBOM(t, ctx, ref.Context(), desc.Digest), desc.Digest)
	}
	var want []string
	for _, p := range platforms {
		want = append(want, p.String())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: platforms %v, want ko.yaml's %v", ref, got, want)
	}
}

// checkSBOM checks that the SPDX document b describes the image digest and lists this module
// among its packages.
func checkSBOM(t *testing.T, what string, b []byte, digest v1.Hash) {
	t.Helper()
	var doc struct {
		SPDXVersion string `json:"spdxVersion"`
		Packages    []struct {
			Name string `json:"name"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if !strings.HasPrefix(doc.SPDXVersion, "SPDX-") {
		t.Errorf("%s: spdxVersion %q", what, doc.SPDXVersion)
	}
	var names []string
	for _, p := range doc.Packages {
		names = append(names, p.Name)
	}
	if !slices.Contains(names, module) {
		t.Errorf("%s does not name the module %s: %v", what, module, names)
	}
	if !slices.Contains(names, digest.String()) {
		t.Errorf("%s does not describe the image %s: %v", what, digest, names)
	}
}

// attachedSBOM reads the SBOM ko attached to the image digest in repo: the artifact tagged
// sha256-<hex>.sbom, whose one layer is the document.
func attachedSBOM(t *testing.T, ctx context.Context, repo name.Repository, digest v1.Hash) []byte {
	t.Helper()
	img, err := remote.Image(repo.Tag(digest.Algorithm+"-"+digest.Hex+".sbom"), remote.WithContext(ctx))
	if err != nil {
		t.Errorf("no SBOM attached to %s in the registry: %v", digest, err)
		return nil
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Errorf("SBOM artifact of %s: %d layers, %v", digest, len(layers), err)
		return nil
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// userID is the numeric user of a config's User ("65532" or "65532:65532"); -1 when it is not
// numeric (a name could be anyone, root included).
func userID(user string) int {
	u, _, _ := strings.Cut(user, ":")
	id, err := strconv.Atoi(u)
	if err != nil {
		return -1
	}
	return id
}

// readBase reads the base's reference by digest from base.txt and returns its first layer per
// platform, which every built image must start with.
func readBase(t *testing.T, ctx context.Context, path, host string) map[string]v1.Hash {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewDigest(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("base.txt is not a reference by digest: %v", err)
	}
	if ref.RegistryStr() != host {
		t.Errorf("base %s is not in the local registry %s", ref, host)
	}
	index, err := remote.Index(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	layers := map[string]v1.Hash{}
	for _, desc := range manifest.Manifests {
		img, err := index.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		ls, err := img.Layers()
		if err != nil || len(ls) == 0 {
			t.Fatalf("base %s: layers %d, %v", desc.Platform, len(ls), err)
		}
		if layers[desc.Platform.String()], err = ls[0].Digest(); err != nil {
			t.Fatal(err)
		}
	}
	return layers
}

var (
	imageLine = regexp.MustCompile(`(?m)^\s*(?:-\s+)?image:\s*"?([^"\s]+)"?\s*$`)
	koRef     = regexp.MustCompile(`ko://` + regexp.QuoteMeta(module) + `/cmd/([a-z0-9-]+)`)
)

// resolvedImages maps each image of the release YAML by its repository's last element (ko -B:
// the binary's name) to its reference, failing on any reference not by digest.
func resolvedImages(t *testing.T, release []byte) map[string]name.Digest {
	t.Helper()
	out := map[string]name.Digest{}
	for _, m := range imageLine.FindAllSubmatch(release, -1) {
		ref, err := name.NewDigest(string(m[1]), name.StrictValidation)
		if err != nil {
			t.Errorf("release.yaml: image %s is not pinned by digest: %v", m[1], err)
			continue
		}
		repo := ref.RepositoryStr()
		out[repo[strings.LastIndex(repo, "/")+1:]] = ref
	}
	return out
}

// koReferences lists the binaries config/ and triggers/ build with ko.
func koReferences(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for _, dir := range []string{"config", "triggers"} {
		files, err := filepath.Glob(filepath.Join(root, dir, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range koRef.FindAllSubmatch(b, -1) {
				if !slices.Contains(out, string(m[1])) {
					out = append(out, string(m[1]))
				}
			}
		}
	}
	return out
}

// koPlatforms reads ko.yaml's defaultPlatforms, or IMAGES_PLATFORMS when the run narrows them.
func koPlatforms(t *testing.T, root string) []v1.Platform {
	t.Helper()
	list := os.Getenv("IMAGES_PLATFORMS")
	if list == "" {
		b, err := os.ReadFile(filepath.Join(root, "ko.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			DefaultPlatforms []string `json:"defaultPlatforms"`
		}
		if err := yaml.Unmarshal(b, &cfg); err != nil {
			t.Fatalf("ko.yaml: %v", err)
		}
		list = strings.Join(cfg.DefaultPlatforms, ",")
	}
	platforms, err := images.ParsePlatforms(list)
	if err != nil {
		t.Fatalf("platforms: %v", err)
	}
	return platforms
}

// runMake runs make in root with the given targets and variables and returns its output.
func runMake(root string, args ...string) ([]byte, error) {
	cmd := exec.Command("make", append([]string{"--no-print-directory", "-C", root}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("make %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}
