package main

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// entry is one file or directory of a layer. Every entry is owned by root (0:0), so the
// manager, which runs as 65532, can change nothing it ships even without a read-only
// root filesystem.
type entry struct {
	// name is the path inside the image without the leading slash; a directory's ends in "/".
	name string
	mode int64
	// src is the file whose content is copied; data is used when src is empty.
	src  string
	data []byte
}

// writeLayer writes entries as a gzipped tar to file and returns it as an OCI layer,
// with the size of the uncompressed tar. Entries come in name order, parent directories
// are added as 0755, and the owner, modification time and tar format are fixed, so the
// same entries give the same bytes (and the same digest) on any machine with the same
// Go toolchain. The gzip header has no name and no time.
func writeLayer(file string, entries []entry, mtime time.Time) (v1.Layer, int64, error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = f.Close() }()
	zw, err := gzip.NewWriterLevel(f, gzip.BestCompression)
	if err != nil {
		return nil, 0, err
	}
	counted := &countingWriter{w: zw}
	tw := tar.NewWriter(counted)
	for _, e := range withParents(entries) {
		if err := writeEntry(tw, e, mtime); err != nil {
			return nil, 0, fmt.Errorf("layer %s: %s: %w", path.Base(file), e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, 0, err
	}
	if err := zw.Close(); err != nil {
		return nil, 0, err
	}
	if err := f.Close(); err != nil {
		return nil, 0, err
	}
	layer, err := tarball.LayerFromFile(file, tarball.WithMediaType(types.OCILayer))
	return layer, counted.n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// withParents returns entries sorted by name, with a 0755 directory for every parent
// that is not listed.
func withParents(entries []entry) []entry {
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.name] = true
	}
	out := slices.Clone(entries)
	for _, e := range entries {
		for dir := path.Dir(strings.TrimSuffix(e.name, "/")); dir != "."; dir = path.Dir(dir) {
			if !seen[dir+"/"] {
				seen[dir+"/"] = true
				out = append(out, entry{name: dir + "/", mode: 0o755})
			}
		}
	}
	slices.SortFunc(out, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	return out
}

func writeEntry(tw *tar.Writer, e entry, mtime time.Time) error {
	hdr := &tar.Header{
		Name:    e.name,
		Mode:    e.mode,
		ModTime: mtime,
		// USTAR has no access or change times and no PAX records that could vary.
		Format: tar.FormatUSTAR,
	}
	if strings.HasSuffix(e.name, "/") {
		hdr.Typeflag = tar.TypeDir
		return tw.WriteHeader(hdr)
	}
	hdr.Typeflag = tar.TypeReg
	if e.src == "" {
		hdr.Size = int64(len(e.data))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(e.data)
		return err
	}
	src, err := os.Open(e.src)
	if err != nil {
		return err
	}
	defer func() { _ = src.Close() }()
	info, err := src.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", e.src)
	}
	hdr.Size = info.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	// A file that changes size while it is copied fails here (tar counts the bytes).
	_, err = io.Copy(tw, src)
	return err
}
