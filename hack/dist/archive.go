package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
)

// entry is one file of an archive. Only the name, mode and content reach the archive:
// no owner, no times of the file on disk, so the bytes depend on the content alone.
type entry struct {
	Name string
	Mode fs.FileMode
	Data []byte
}

// sorted returns entries ordered by name: the order a directory walk or a map gives
// must not change the archive.
func sorted(entries []entry) []entry {
	s := slices.Clone(entries)
	slices.SortFunc(s, func(a, b entry) int { return strings.Compare(a.Name, b.Name) })
	return s
}

// writeArchive writes entries to path as a zip when path ends in .zip, else as a
// gzipped tar, with every entry's time set to mtime.
func writeArchive(path string, entries []entry, mtime time.Time) error {
	var buf bytes.Buffer
	var err error
	if strings.HasSuffix(path, ".zip") {
		err = writeZip(&buf, entries, mtime)
	} else {
		err = writeTarGz(&buf, entries, mtime)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, buf.Bytes(), 0o644) //nolint:gosec // G306: a release file, published for everyone to read
}

func writeTarGz(w io.Writer, entries []entry, mtime time.Time) error {
	// The gzip header's time and name stay empty; gzip records the OS as "unknown"
	// whatever the host, so the stream is the same on every machine.
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, e := range sorted(entries) {
		h := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     e.Name,
			Mode:     int64(e.Mode.Perm()),
			Size:     int64(len(e.Data)),
			ModTime:  mtime,
			// USTAR has no access or change times, which PAX would record.
			Format: tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(e.Data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func writeZip(w io.Writer, entries []entry, mtime time.Time) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	for _, e := range sorted(entries) {
		h := &zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: mtime}
		// SetMode records Unix permissions (the executable bit for unzip on Unix).
		h.SetMode(e.Mode.Perm())
		f, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := f.Write(e.Data); err != nil {
			return err
		}
	}
	return zw.Close()
}
