package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations of index.json that name the image on import. podman reads either, and
// containerd's importer prefers its own; both carry the full reference, so neither tool
// falls back to a generated name or a bare tag.
const (
	annotationRefName         = "org.opencontainers.image.ref.name"
	annotationContainerdImage = "io.containerd.image.name"
)

// blob is one file under blobs/sha256 of the layout.
type blob struct {
	digest v1.Hash
	size   int64
	open   func() (io.ReadCloser, error)
}

func bytesBlob(data []byte) blob {
	sum := sha256.Sum256(data)
	return blob{
		digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
		size:   int64(len(data)),
		open:   func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
	}
}

// indexBlobs returns every blob of idx once: its manifest, and each image's manifest,
// config and compressed layers (layers shared by platforms are stored once).
func indexBlobs(idx v1.ImageIndex) ([]blob, error) {
	raw, err := idx.RawManifest()
	if err != nil {
		return nil, err
	}
	blobs := []blob{bytesBlob(raw)}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, desc := range im.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return nil, err
		}
		manifest, err := img.RawManifest()
		if err != nil {
			return nil, err
		}
		config, err := img.RawConfigFile()
		if err != nil {
			return nil, err
		}
		blobs = append(blobs, bytesBlob(manifest), bytesBlob(config))
		layers, err := img.Layers()
		if err != nil {
			return nil, err
		}
		for _, l := range layers {
			d, err := l.Digest()
			if err != nil {
				return nil, err
			}
			n, err := l.Size()
			if err != nil {
				return nil, err
			}
			blobs = append(blobs, blob{digest: d, size: n, open: l.Compressed})
		}
	}
	slices.SortFunc(blobs, func(a, b blob) int { return strings.Compare(a.digest.Hex, b.digest.Hex) })
	return slices.CompactFunc(blobs, func(a, b blob) bool { return a.digest == b.digest }), nil
}

// writeArchive writes idx as an OCI image layout in a tar file (oci-layout, index.json
// naming the index ref, blobs/sha256/*): the format `podman load`, `ctr images import`
// and `skopeo copy oci-archive:` read. Entries are sorted, with fixed owner, modes and
// mtime, so the archive's bytes depend only on idx. The file is written next to its
// final name and renamed, so a reader never sees half an archive.
func writeArchive(file string, idx v1.ImageIndex, ref string, mtime time.Time) (err error) {
	blobs, err := indexBlobs(idx)
	if err != nil {
		return err
	}
	desc, err := indexDescriptor(idx, ref)
	if err != nil {
		return err
	}
	indexJSON, err := json.Marshal(v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests:     []v1.Descriptor{desc},
	})
	if err != nil {
		return err
	}

	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+"-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	tw := tar.NewWriter(tmp)
	dir := func(name string) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: mtime, Format: tar.FormatUSTAR})
	}
	if err := dir("blobs/"); err != nil {
		return err
	}
	if err := dir("blobs/sha256/"); err != nil {
		return err
	}
	for _, b := range blobs {
		if err := writeBlob(tw, b, mtime); err != nil {
			return err
		}
	}
	// After the blobs, in name order: index.json, oci-layout.
	if err := writeFile(tw, "index.json", indexJSON, mtime); err != nil {
		return err
	}
	if err := writeFile(tw, "oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`), mtime); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// CreateTemp made it 0600; the archive is for other users' tools too (containerd,
	// podman), like any build output.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

// indexDescriptor is index.json's one entry: the multi-arch index, named ref.
func indexDescriptor(idx v1.ImageIndex, ref string) (v1.Descriptor, error) {
	d, err := idx.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	n, err := idx.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{
		MediaType:   types.OCIImageIndex,
		Digest:      d,
		Size:        n,
		Annotations: map[string]string{annotationRefName: ref, annotationContainerdImage: ref},
	}, nil
}

func writeFile(tw *tar.Writer, name string, data []byte, mtime time.Time) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatUSTAR}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// writeBlob copies b into the archive and checks its digest on the way, so a layer file
// changed after it was hashed fails the build instead of shipping a broken image.
func writeBlob(tw *tar.Writer, b blob, mtime time.Time) error {
	rc, err := b.open()
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	name := path.Join("blobs", b.digest.Algorithm, b.digest.Hex)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: b.size, ModTime: mtime, Format: tar.FormatUSTAR}); err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(tw, io.TeeReader(rc, h)); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != b.digest.Hex {
		return fmt.Errorf("%s: content has digest sha256:%s", name, got)
	}
	return nil
}

// readArchive unpacks an archive written by writeArchive into dir and returns the index
// index.json names, with its ref.
func readArchive(file, dir string) (v1.ImageIndex, string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = f.Close() }()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "", err
		}
		if !filepath.IsLocal(hdr.Name) {
			return nil, "", fmt.Errorf("%s: entry %q leaves the layout", file, hdr.Name)
		}
		target := filepath.Join(dir, hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return nil, "", err
			}
		case tar.TypeReg:
			if err := extractFile(tr, target); err != nil {
				return nil, "", err
			}
		default:
			return nil, "", fmt.Errorf("%s: entry %q is not a file or directory", file, hdr.Name)
		}
	}
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, "", err
	}
	im, err := top.IndexManifest()
	if err != nil {
		return nil, "", err
	}
	if len(im.Manifests) != 1 || im.Manifests[0].MediaType != types.OCIImageIndex {
		return nil, "", fmt.Errorf("%s: index.json must name one image index, not %d manifests", file, len(im.Manifests))
	}
	idx, err := top.ImageIndex(im.Manifests[0].Digest)
	if err != nil {
		return nil, "", err
	}
	return idx, im.Manifests[0].Annotations[annotationRefName], nil
}

func extractFile(r io.Reader, target string) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	out, err := os.Create(target)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
