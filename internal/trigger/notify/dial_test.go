package notify

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNewClientRefusesLinkLocalAddresses(t *testing.T) {
	hc := NewClient()
	for _, url := range []string{
		"http://169.254.169.254/latest/meta-data/iam/security-credentials/",
		"http://[fe80::1]:8080/hook",
		"http://0.0.0.0:8080/hook",
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			t.Errorf("%s: delivered, want refused", url)
			continue
		}
		if !strings.Contains(err.Error(), "link-local") {
			t.Errorf("%s: error %v does not say why", url, err)
		}
		if o := transportOutcome(err); o.retry || !strings.Contains(o.err, "link-local") {
			t.Errorf("%s: outcome %+v, want a final refusal", url, o)
		}
	}
	// Loopback and other addresses (in-cluster receivers) still work.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("loopback receiver: %v", err)
	}
	_ = resp.Body.Close()
}
