package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// push writes the index of archive and every image of it to repository:tag, then asks
// the registry for the tag and checks that it names the same digest: the registry
// stores exactly what was built, so the digest in bin/image/digest is the one users
// pull. opts carry the credentials (the default keychain in `make image-push`).
func push(ctx context.Context, archive, repository, tag string, opts ...remote.Option) (v1.Hash, error) {
	ref, err := name.NewTag(repository + ":" + tag)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("repository %q: %w", repository, err)
	}
	dir, err := os.MkdirTemp(filepath.Dir(archive), ".push-")
	if err != nil {
		return v1.Hash{}, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	idx, _, err := readArchive(archive, dir)
	if err != nil {
		return v1.Hash{}, err
	}
	want, err := idx.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	opts = append(opts, remote.WithContext(ctx))
	if err := remote.WriteIndex(ref, idx, opts...); err != nil {
		return v1.Hash{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	got, err := remote.Head(ref, opts...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reading back %s: %w", ref, err)
	}
	if got.Digest != want {
		return v1.Hash{}, fmt.Errorf("%s names %s after the push, not the built %s", ref, got.Digest, want)
	}
	return want, nil
}
