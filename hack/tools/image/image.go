package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Paths inside the image (without the leading slash). The chart and config/manager pass
// --kubectl-path=/kubectl; the manager's default is no kubectl, so the flag is explicit.
const (
	managerFile = "kubeask-manager"
	kubectlFile = "kubectl"
	caFile      = "etc/ssl/certs/ca-certificates.crt"
	// runAsUser is the chart's podSecurityContext user: nonroot in distroless terms.
	runAsUser = "65532:65532"
)

// imageSpec is what every platform's image is stamped with.
type imageSpec struct {
	Repository string // e.g. ghcr.io/kubeask/kubeask-manager
	Version    string
	Revision   string
	Source     string
	Created    time.Time
}

// ref is the name the archive gives the index, which `podman load` and
// `ctr images import` store the image under.
func (s imageSpec) ref() string { return s.Repository + ":" + s.Version }

// labels are the image config's labels and the index's annotations.
func (s imageSpec) labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":    "kubeask-manager",
		"org.opencontainers.image.source":   s.Source,
		"org.opencontainers.image.version":  s.Version,
		"org.opencontainers.image.revision": s.Revision,
		"org.opencontainers.image.created":  s.Created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.licenses": "Apache-2.0",
	}
}

// platformSize is what one platform's image weighs: compressed is what a node pulls
// (manifest, config and gzipped layers), uncompressed is the layers' tar bytes.
type platformSize struct {
	Platform     v1.Platform
	Digest       v1.Hash
	Compressed   int64
	Uncompressed int64
}

// layerSpec is one layer of the image: the CA roots change with the x509roots module,
// kubectl with the Kubernetes version, the manager with every commit, so a node that
// has a previous release pulls only what changed.
type layerSpec struct {
	name    string
	entries []entry
}

// platformImage builds the image of one platform from the manager and kubectl built for
// it in payload, writing the layer files into work.
func platformImage(spec imageSpec, p v1.Platform, payload, work string, ca []byte) (v1.Image, platformSize, error) {
	size := platformSize{Platform: p}
	layers := []layerSpec{
		{name: "ca-roots", entries: []entry{
			{name: caFile, mode: 0o644, data: ca},
			// The chart mounts an emptyDir here; the directory lets the image also run
			// without one (podman --read-only mounts a tmpfs on /tmp).
			{name: "tmp/", mode: 0o1777},
		}},
		{name: "kubectl", entries: []entry{{name: kubectlFile, mode: 0o755, src: filepath.Join(payload, kubectlFile)}}},
		{name: "kubeask-manager", entries: []entry{{name: managerFile, mode: 0o755, src: filepath.Join(payload, managerFile)}}},
	}
	cfg := &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Variant:      p.Variant,
		Created:      v1.Time{Time: spec.Created},
		Config: v1.Config{
			User:       runAsUser,
			WorkingDir: "/",
			Entrypoint: []string{"/" + managerFile},
			Labels:     spec.labels(),
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.ConfigFile(base, cfg)
	if err != nil {
		return nil, size, err
	}
	var adds []mutate.Addendum
	for _, l := range layers {
		file := filepath.Join(work, fmt.Sprintf("%s_%s-%s.tar.gz", p.OS, p.Architecture, l.name))
		layer, n, err := writeLayer(file, l.entries, spec.Created)
		if err != nil {
			return nil, size, err
		}
		size.Uncompressed += n
		adds = append(adds, mutate.Addendum{
			Layer:   layer,
			History: v1.History{Created: v1.Time{Time: spec.Created}, CreatedBy: "hack/tools/image: " + l.name},
		})
	}
	if img, err = mutate.Append(img, adds...); err != nil {
		return nil, size, err
	}
	if size.Digest, err = img.Digest(); err != nil {
		return nil, size, err
	}
	if size.Compressed, err = compressedSize(img); err != nil {
		return nil, size, err
	}
	return img, size, nil
}

func compressedSize(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return 0, err
	}
	total := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		total += l.Size
	}
	return total, nil
}

// buildIndex builds one image per platform, from payload/<os>_<arch>/, and the
// multi-arch index of them, in platform order.
func buildIndex(spec imageSpec, platforms []v1.Platform, payload, work string) (v1.ImageIndex, []platformSize, error) {
	ca, _ := caBundle()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var sizes []platformSize
	var adds []mutate.IndexAddendum
	for _, p := range platforms {
		dir := filepath.Join(payload, p.OS+"_"+p.Architecture)
		if _, err := os.Stat(dir); err != nil {
			return nil, nil, fmt.Errorf("platform %s: %w", p, err)
		}
		img, size, err := platformImage(spec, p, dir, work, ca)
		if err != nil {
			return nil, nil, fmt.Errorf("platform %s: %w", p, err)
		}
		sizes = append(sizes, size)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	idx = mutate.AppendManifests(idx, adds...)
	annotated, ok := mutate.Annotations(idx, spec.labels()).(v1.ImageIndex)
	if !ok {
		return nil, nil, fmt.Errorf("annotating the index: got %T", annotated)
	}
	return annotated, sizes, nil
}
