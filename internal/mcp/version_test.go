package mcp

import "testing"

func TestInitializeVersion(t *testing.T) {
	for _, tc := range []struct{ requested, want string }{
		{"", FallbackProtocolVersion},
		{"2024-11-05", "2024-11-05"},
		{"2025-03-26", "2025-03-26"},
		{"2025-06-18", "2025-06-18"},
		{"2025-11-25", "2025-11-25"},
		{"2026-07-28", "2026-07-28"}, // the SDK caps the handshake itself
		{"2099-01-01", FallbackProtocolVersion},
		{"1.0", FallbackProtocolVersion},
	} {
		if got := initializeVersion(tc.requested); got != tc.want {
			t.Errorf("initializeVersion(%q) = %q, want %q", tc.requested, got, tc.want)
		}
	}
}
