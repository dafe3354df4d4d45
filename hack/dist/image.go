package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// refNameAnnotation names the image in an OCI layout's index.json; `make image` sets
// it to repository:version, and podman and containerd import the image under it.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// imageRef returns the name the OCI layout tar at path gives its image.
func imageRef(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("%s has no index.json: not an OCI image layout", path)
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		if strings.TrimPrefix(h.Name, "./") != "index.json" {
			continue
		}
		var idx struct {
			Manifests []struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"manifests"`
		}
		if err := json.NewDecoder(tr).Decode(&idx); err != nil {
			return "", fmt.Errorf("%s: index.json: %w", path, err)
		}
		if len(idx.Manifests) != 1 {
			return "", fmt.Errorf("%s: index.json names %d images, want one", path, len(idx.Manifests))
		}
		return idx.Manifests[0].Annotations[refNameAnnotation], nil
	}
}
