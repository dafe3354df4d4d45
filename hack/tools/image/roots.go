package main

import (
	"bytes"
	"encoding/pem"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// caBundle returns the Mozilla NSS roots that golang.org/x/crypto/x509roots/fallback
// carries, as a PEM file. The roots come from a module pinned in go.mod, not from the
// build machine, so the layer is the same on every machine and changes only when the
// module is bumped. Roots with a distrust-after constraint are left out: a PEM file
// cannot carry the constraint, and trusting them without it would be wider than NSS.
func caBundle() (pemData []byte, skipped int) {
	var buf bytes.Buffer
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			skipped++
			continue
		}
		// Encoding into a bytes.Buffer cannot fail.
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate})
	}
	return buf.Bytes(), skipped
}
