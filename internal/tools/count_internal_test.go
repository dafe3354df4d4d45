package tools

import "testing"

// resources_list never says "1 pods" (issue 15 §9).
func TestCountOf(t *testing.T) {
	tests := []struct {
		n            int
		plural, kind string
		want         string
	}{
		{0, "pods", "Pod", "0 pods"},
		{1, "pods", "Pod", "1 pod"},
		{2, "pods", "Pod", "2 pods"},
		{1, "configmaps", "ConfigMap", "1 configmap"},
		{1, "endpoints", "Endpoints", "1 endpoints"},
		{1, "widgets", "", "1 widgets"},
	}
	for _, tt := range tests {
		if got := countOf(tt.n, tt.plural, tt.kind); got != tt.want {
			t.Errorf("countOf(%d, %q, %q) = %q, want %q", tt.n, tt.plural, tt.kind, got, tt.want)
		}
	}
}
