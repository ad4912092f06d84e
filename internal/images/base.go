package images

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// NonRootUID is the user (and group) every image runs as: the distroless "nonroot" user, so an
// image built on this base behaves as one built on the published distroless bases.
const NonRootUID = 65532

// DefaultCertificates is where Debian keeps the machine's CA bundle, and where Go's crypto/x509
// looks for it on Linux: the one file of the base that comes from this machine.
const DefaultCertificates = "/etc/ssl/certs/ca-certificates.crt"

// BaseOptions says what goes into the base image.
type BaseOptions struct {
	// Certificates is the PEM bundle copied to /etc/ssl/certs/ca-certificates.crt.
	Certificates []byte
	// Platforms are the os/arch pairs of the index; one image each, with the same layer (it
	// holds no binaries, so it is the same for every architecture).
	Platforms []v1.Platform
}

// epoch is every file's modification time and the image's creation time: the base built from
// the same certificates is byte for byte the same image, so its digest changes only when they do.
var epoch = time.Unix(0, 0).UTC()

// Base assembles the base image index: one layer with the CA certificates, /etc/passwd and
// /etc/group naming root and the nonroot user (65532), the nonroot user's home and /tmp, and no
// shell or other binary; the config runs as 65532:65532.
//
// It returns an error when there are no certificates or no platforms, or a platform has no OS or
// architecture.
func Base(opts BaseOptions) (v1.ImageIndex, error) {
	if len(bytes.TrimSpace(opts.Certificates)) == 0 {
		return nil, errors.New("base image: no CA certificates")
	}
	if len(opts.Platforms) == 0 {
		return nil, errors.New("base image: no platforms")
	}
	layer, err := baseLayer(opts.Certificates)
	if err != nil {
		return nil, err
	}
	index := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range opts.Platforms {
		if p.OS == "" || p.Architecture == "" {
			return nil, fmt.Errorf("base image: platform %q needs an OS and an architecture", p.String())
		}
		img, err := baseImage(layer, p)
		if err != nil {
			return nil, err
		}
		platform := p
		index = mutate.AppendManifests(index, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &platform},
		})
	}
	return index, nil
}

// baseImage is the one-layer image for platform p.
func baseImage(layer v1.Layer, p v1.Platform) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(img, layer)
	if err != nil {
		return nil, fmt.Errorf("base image: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("base image: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant, cfg.OSVersion = p.OS, p.Architecture, p.Variant, p.OSVersion
	cfg.Created = v1.Time{Time: epoch}
	cfg.Config.User = fmt.Sprintf("%d:%d", NonRootUID, NonRootUID)
	cfg.Config.WorkingDir = "/home/nonroot"
	cfg.Config.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"SSL_CERT_FILE=" + DefaultCertificates,
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("base image: %w", err)
	}
	return mutate.CreatedAt(img, v1.Time{Time: epoch})
}

// baseFile is one entry of the base layer.
type baseFile struct {
	name string
	mode int64
	uid  int
	dir  bool
	body []byte
}

// baseLayer writes the base's files into one uncompressed tar and wraps it as a layer.
func baseLayer(certs []byte) (v1.Layer, error) {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", NonRootUID, NonRootUID)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", NonRootUID)
	files := []baseFile{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, body: []byte(passwd)},
		{name: "etc/group", mode: 0o644, body: []byte(group)},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, body: certs},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, uid: NonRootUID, dir: true},
		{name: "root/", mode: 0o700, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{
			Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.uid, ModTime: epoch,
			Typeflag: tar.TypeReg, Size: int64(len(f.body)), Format: tar.FormatPAX,
		}
		if f.dir {
			hdr.Typeflag, hdr.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("base layer: %w", err)
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, fmt.Errorf("base layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("base layer: %w", err)
	}
	content := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(content)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// ReadCertificates reads the CA bundle at path.
//
// It returns an error when the file cannot be read or holds no PEM certificate.
func ReadCertificates(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w", err)
	}
	if !bytes.Contains(b, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("CA certificates: %s holds no PEM certificate", path)
	}
	return b, nil
}
