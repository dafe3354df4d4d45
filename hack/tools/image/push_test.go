package main

import (
	"bytes"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPushToRegistry pushes a built archive with `image push` (the default keychain,
// here with an empty Docker config) to an in-process registry, then pulls by tag: the
// registry serves the built index digest, and each platform resolves to its own image.
func TestPushToRegistry(t *testing.T) {
	archive, digest := build(t, fakePayload(t, "manager"))
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(&bytes.Buffer{}, "", 0))))
	t.Cleanup(srv.Close)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("REGISTRY_AUTH_FILE", "")
	repo := strings.TrimPrefix(srv.URL, "http://") + "/kubeask/kubeask-manager"

	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"push", "--archive", archive, "--repository", repo, "--tag", testVersion}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("image push: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), digest) {
		t.Errorf("push output %q lacks the digest %s", stdout.String(), digest)
	}

	ref, err := name.NewTag(repo + ":" + testVersion)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(ref, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := idx.Digest(); err != nil || got.String() != digest {
		t.Fatalf("registry serves index %s (%v), want %s", got, err, digest)
	}
	for _, p := range testPlatforms() {
		platform, err := v1.ParsePlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(ref, remote.WithContext(t.Context()), remote.WithPlatform(*platform))
		if err != nil {
			t.Fatalf("pulling %s: %v", p, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Architecture != platform.Architecture {
			t.Errorf("pulling %s gave a %s image", p, cfg.Architecture)
		}
	}
}

// TestPushRejectsBadInput: a missing archive or a repository that is no reference fails
// before anything reaches a registry.
func TestPushRejectsBadInput(t *testing.T) {
	archive, _ := build(t, fakePayload(t, "manager"))
	cases := map[string][]string{
		"no repository":  {"push", "--archive", archive, "--tag", testVersion},
		"bad repository": {"push", "--archive", archive, "--repository", "Not A Repo", "--tag", testVersion},
		"no archive":     {"push", "--archive", archive + ".missing", "--repository", "127.0.0.1:1/x", "--tag", testVersion},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := run(t.Context(), args, &stdout, &stderr); err == nil {
				t.Fatalf("image %v succeeded", args)
			}
		})
	}
}
