package images_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ordersaga/ordersaga/internal/images"
)

var testCerts = []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")

func TestBaseImage(t *testing.T) {
	platforms, err := images.ParsePlatforms("linux/amd64, linux/arm64")
	if err != nil {
		t.Fatal(err)
	}
	index, err := images.Base(images.BaseOptions{Certificates: testCerts, Platforms: platforms})
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(manifest.Manifests) != 2 {
		t.Fatalf("index has %d manifests, want 2", len(manifest.Manifests))
	}
	for i, desc := range manifest.Manifests {
		if desc.Platform == nil || !desc.Platform.Equals(platforms[i]) {
			t.Errorf("manifest %d platform = %v, want %v", i, desc.Platform, platforms[i])
		}
		img, err := index.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Config.User != "65532:65532" {
			t.Errorf("%s: User = %q, want 65532:65532", platforms[i], cfg.Config.User)
		}
		if cfg.OS != platforms[i].OS || cfg.Architecture != platforms[i].Architecture {
			t.Errorf("%s: config says %s/%s", platforms[i], cfg.OS, cfg.Architecture)
		}
		files := layerFiles(t, img)
		if got := files["etc/ssl/certs/ca-certificates.crt"]; !bytes.Equal(got.body, testCerts) {
			t.Errorf("%s: certificates = %q, want the bundle given", platforms[i], got.body)
		}
		if !strings.Contains(string(files["etc/passwd"].body), "nonroot:x:65532:65532:") {
			t.Errorf("%s: /etc/passwd has no nonroot user: %q", platforms[i], files["etc/passwd"].body)
		}
		if home := files["home/nonroot"]; home.uid != 65532 {
			t.Errorf("%s: /home/nonroot owned by %d, want 65532", platforms[i], home.uid)
		}
		for name, f := range files {
			if f.mode&0o111 != 0 && !f.dir {
				t.Errorf("%s: %s is executable; the base holds no programs", platforms[i], name)
			}
		}
	}

	// The same certificates give the same digest: the base is reproducible.
	again, err := images.Base(images.BaseOptions{Certificates: testCerts, Platforms: platforms})
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := index.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("two builds of the same base differ: %s, %s", d1, d2)
	}
}

func TestBaseImageRefusesBadInput(t *testing.T) {
	amd64 := []v1.Platform{{OS: "linux", Architecture: "amd64"}}
	for name, opts := range map[string]images.BaseOptions{
		"no certificates": {Platforms: amd64},
		"no platforms":    {Certificates: testCerts},
		"no architecture": {Certificates: testCerts, Platforms: []v1.Platform{{OS: "linux"}}},
	} {
		if _, err := images.Base(opts); err == nil {
			t.Errorf("%s: Base returned no error", name)
		}
	}
	for _, s := range []string{"", " , ", "linux"} {
		if _, err := images.ParsePlatforms(s); err == nil {
			t.Errorf("ParsePlatforms(%q) returned no error", s)
		}
	}
}

type tarFile struct {
	body []byte
	mode int64
	uid  int
	dir  bool
}

// layerFiles reads every file of img's layers.
func layerFiles(t *testing.T, img v1.Image) map[string]tarFile {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]tarFile{}
	for _, layer := range layers {
		rc, err := layer.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[strings.TrimSuffix(hdr.Name, "/")] = tarFile{body: body, mode: hdr.Mode, uid: hdr.Uid, dir: hdr.Typeflag == tar.TypeDir}
		}
		rc.Close()
	}
	return files
}
