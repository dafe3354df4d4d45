package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// sumsFile is the name of the checksum list, in the format `sha256sum -c` reads.
const sumsFile = "SHA256SUMS"

// sha256File returns the hex SHA-256 of the file at path.
func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeSums writes dir/SHA256SUMS for the named files of dir, sorted by name, and
// returns each file's sum.
func writeSums(dir string, names []string) (map[string]string, error) {
	sums := map[string]string{}
	var b strings.Builder
	for _, n := range slices.Sorted(slices.Values(names)) {
		s, err := sha256File(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		sums[n] = s
		// Two spaces: "text mode", what sha256sum writes and every checker reads.
		fmt.Fprintf(&b, "%s  %s\n", s, n)
	}
	return sums, os.WriteFile(filepath.Join(dir, sumsFile), []byte(b.String()), 0o644) //nolint:gosec // G306: a release file, published for everyone to read
}
