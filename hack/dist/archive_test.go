package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// readArchive returns the entries of a tar.gz or zip archive and their times.
func readArchive(t *testing.T, path string) ([]entry, []time.Time) {
	t.Helper()
	var entries []entry
	var times []time.Time
	if filepath.Ext(path) == ".zip" {
		zr, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = zr.Close() }()
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			_ = rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, entry{Name: f.Name, Mode: f.Mode().Perm(), Data: data})
			times = append(times, f.Modified.UTC())
		}
		return entries, times
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries, times
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: %s has owner %d:%d %q:%q, want none", path, h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		entries = append(entries, entry{Name: h.Name, Mode: h.FileInfo().Mode().Perm(), Data: data})
		times = append(times, h.ModTime.UTC())
	}
}

func TestArchivesAreReproducible(t *testing.T) {
	mtime := time.Date(2026, 11, 29, 2, 3, 54, 0, time.UTC)
	entries := []entry{
		{Name: "kubectl-ask", Mode: 0o755, Data: []byte("#!binary")},
		{Name: "LICENSE", Mode: 0o644, Data: []byte("Apache License")},
	}
	for _, ext := range []string{".tar.gz", ".zip"} {
		t.Run(ext, func(t *testing.T) {
			dir := t.TempDir()
			first, second := filepath.Join(dir, "a"+ext), filepath.Join(dir, "b"+ext)
			if err := writeArchive(first, entries, mtime); err != nil {
				t.Fatal(err)
			}
			// The same files given in another order, a second later on the clock.
			time.Sleep(time.Second)
			reversed := slices.Clone(entries)
			slices.Reverse(reversed)
			if err := writeArchive(second, reversed, mtime); err != nil {
				t.Fatal(err)
			}
			a, _ := os.ReadFile(first)
			b, _ := os.ReadFile(second)
			if !bytes.Equal(a, b) {
				t.Fatalf("two archives of the same files differ")
			}
			got, times := readArchive(t, first)
			want := []entry{entries[1], entries[0]} // sorted by name: LICENSE first
			if !slices.EqualFunc(got, want, func(x, y entry) bool {
				return x.Name == y.Name && x.Mode == y.Mode && bytes.Equal(x.Data, y.Data)
			}) {
				t.Errorf("entries %+v, want %+v", got, want)
			}
			for i, tm := range times {
				if !tm.Equal(mtime) {
					t.Errorf("%s has time %s, want %s", got[i].Name, tm, mtime)
				}
			}
		})
	}
}
