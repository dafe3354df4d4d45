package alerts

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// presents is an independent reading of "the request carries token": exactly the
// scheme Bearer (any case) and the token, separated by white space.
func presents(authorization, token string) bool {
	f := strings.Fields(authorization)
	return len(f) == 2 && strings.EqualFold(f[0], "Bearer") && f[1] == token
}

// FuzzReceiver: no input panics, every answer is a documented code with a Response
// body, and the engine is only ever handed a notification for a trigger whose own,
// non-empty token the request carried.
func FuzzReceiver(f *testing.F) {
	firing, resolved, group := payload(f, "firing.json"), payload(f, "resolved.json"), payload(f, "firing-group.json")
	good := bearer(goodToken)
	for _, seed := range []struct {
		method, target, authorization string
		body                          []byte
	}{
		{"POST", "/alerts/team-a/crashloop", good, firing},
		{"POST", "/alerts/team-a/everything", good, resolved},
		{"POST", "/alerts/team-a/crashloop", good, group},
		{"POST", "/alerts/team-a/crashloop", "bearer  " + goodToken + " ", group},
		{"POST", "/alerts/team-a/crashloop", bearer("amwh-4f9c2d7e1b8a6036"), firing},
		{"POST", "/alerts/team-a/empty", "Bearer ", firing},
		{"POST", "/alerts/team-a/blank", "Bearer \n", firing},
		{"POST", "/alerts/team-a/suspended", good, firing},
		{"POST", "/alerts/team-a/nightly", good, firing},
		{"POST", "/alerts/team-a/crash%2Floop", good, firing},
		{"POST", "/alerts/team-a/crashloop?x=1", good, []byte(`{"version":"4","groupKey":"g","status":"firing","alerts":[{"status":"firing","labels":null}]}`)},
		{"POST", "/alerts/team-a/crashloop", good, []byte(`{"version":"3"}`)},
		{"POST", "/alerts/team-a/crashloop", good, []byte(`{"version":"4","groupKey":"g","status":"firing","truncatedAlerts":18446744073709551615,"alerts":[]}`)},
		{"GET", "/alerts/team-a/crashloop", good, nil},
		{"POST", "/alerts/team-a/crashloop", "Basic " + goodToken, firing},
	} {
		f.Add(seed.method, seed.target, seed.authorization, seed.body)
	}

	// documented are the answers the package comment lists (500 needs a Receiver
	// missing a dependency, which this one is not).
	documented := map[int]bool{200: true, 400: true, 401: true, 404: true, 405: true, 410: true, 413: true, 422: true, 503: true}
	f.Fuzz(func(t *testing.T, method, target, authorization string, body []byte) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		ctx := log.IntoContext(t.Context(), logr.Discard())
		req, err := http.NewRequestWithContext(ctx, method, "http://kubeask.test/", bytes.NewReader(body))
		if err != nil {
			return // not a method net/http would accept
		}
		req.URL = u
		req.Header["Authorization"] = []string{authorization}

		w := newWorld()
		h := w.receiver()
		h.MaxBodyBytes = 4096
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		if !documented[rec.Code] {
			t.Fatalf("answer %d is not documented", rec.Code)
		}
		var resp Response
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("answer %d has a body that is not a Response: %q", rec.Code, rec.Body.String())
		}
		if rec.Code == http.StatusUnauthorized && resp.Message != unauthorizedMessage {
			t.Fatalf("a 401 with another body: %q", resp.Message)
		}
		if !bytes.Contains(body, []byte(goodToken)) && strings.Contains(rec.Body.String(), goodToken) {
			t.Fatalf("the answer holds the token: %q", rec.Body.String())
		}
		if len(w.fired) == 0 {
			if resp.Fired {
				t.Fatal("the answer says fired but the engine got nothing")
			}
			return
		}
		if len(w.fired) > 1 || rec.Code != http.StatusOK || !resp.Fired {
			t.Fatalf("fired %d times, answer %d %+v", len(w.fired), rec.Code, resp)
		}
		if !presents(authorization, goodToken) {
			t.Fatalf("fired with Authorization %q", authorization)
		}
		if tr := w.fired[0].trigger; tr != "team-a/crashloop" && tr != "team-a/everything" && tr != "team-a/team-z" {
			t.Fatalf("fired trigger %s, which must never fire", tr)
		}
		if n := w.fired[0].n; len(n.Alerts) == 0 || len(n.Alerts) > DefaultMaxAlerts {
			t.Fatalf("fired with %d alerts", len(n.Alerts))
		}
	})
}
