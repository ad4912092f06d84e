package images

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ParsePlatforms parses a comma-separated list of os/arch[/variant], as ko.yaml's
// defaultPlatforms and ko's --platform write them.
//
// It returns an error for an empty list or an entry without an OS and an architecture.
func ParsePlatforms(s string) ([]v1.Platform, error) {
	var out []v1.Platform
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := v1.ParsePlatform(part)
		if err != nil {
			return nil, fmt.Errorf("platform %q: %w", part, err)
		}
		if p.OS == "" || p.Architecture == "" {
			return nil, fmt.Errorf("platform %q: want os/arch", part)
		}
		out = append(out, *p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no platforms in %q", s)
	}
	return out, nil
}

// PushIndex writes index to the repository ref names (a tag) and returns the reference by
// digest, the form a build should be pinned to. A registry on localhost is spoken to in plain
// HTTP, as go-containerregistry does for loopback addresses.
//
// It returns an error when ref does not parse or the registry refuses the push.
func PushIndex(ctx context.Context, ref string, index v1.ImageIndex) (name.Digest, error) {
	tag, err := name.NewTag(ref)
	if err != nil {
		return name.Digest{}, fmt.Errorf("push %s: %w", ref, err)
	}
	if err := remote.WriteIndex(tag, index, remote.WithContext(ctx)); err != nil {
		return name.Digest{}, fmt.Errorf("push %s: %w", ref, err)
	}
	digest, err := index.Digest()
	if err != nil {
		return name.Digest{}, fmt.Errorf("push %s: %w", ref, err)
	}
	return tag.Context().Digest(digest.String()), nil
}
