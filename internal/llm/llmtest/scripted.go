package llmtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Scripted is a raw HTTP server for provider wire-format tests: each request gets the
// next canned answer, and every request is recorded for assertions on what the client
// really sent. A conversation its provider would refuse gets the provider's 400
// instead, and uses up no answer.
type Scripted struct {
	// URL is the server's base URL.
	URL string

	t        *testing.T
	protocol Protocol
	mu       sync.Mutex
	script   []Canned
	got      []Recorded
	rejected []Rejection
}

// Recorded is one request the server received.
type Recorded struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// Fields returns one top-level field of each request body, as it was sent (the tools
// array, say), so tests can compare the bytes of successive requests.
func Fields(t testing.TB, got []Recorded, name string) []string {
	t.Helper()
	out := make([]string, len(got))
	for i, r := range got {
		var body map[string]json.RawMessage
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("request %d body is not a JSON object: %v", i, err)
		}
		out[i] = string(body[name])
	}
	return out
}

// Canned is one scripted answer.
type Canned struct {
	Status int // 0 means 200
	Header map[string]string
	Body   string
	// Delay holds the answer back, or until the client gives up.
	Delay time.Duration
}

// NewScripted starts a server of protocol p that answers with script, in order; it is
// closed when the test ends. A request beyond the script fails the test.
func NewScripted(t *testing.T, p Protocol, script ...Canned) *Scripted {
	t.Helper()
	s := &Scripted{t: t, protocol: p, script: script}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Requests returns the requests received so far.
func (s *Scripted) Requests() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Recorded(nil), s.got...)
}

// Rejections returns the requests refused so far by the provider's rules.
func (s *Scripted) Rejections() []Rejection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rejection(nil), s.rejected...)
}

func (s *Scripted) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.t.Errorf("reading request body: %v", err)
	}
	s.mu.Lock()
	s.got = append(s.got, Recorded{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	if rej := s.protocol.Check(r.URL.Path, body); rej != nil {
		s.rejected = append(s.rejected, *rej)
		n := len(s.got)
		s.mu.Unlock()
		s.t.Logf("the fake %s server refused request %d as the real API would: %s", s.protocol, n, rej.Message)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rej.Status)
		_, _ = io.WriteString(w, rej.Body)
		return
	}
	if len(s.script) == 0 {
		s.mu.Unlock()
		s.t.Errorf("unexpected request %d to %s", len(s.got), r.URL.Path)
		http.Error(w, `{"error":{"message":"no scripted reply","type":"server_error"}}`, http.StatusInternalServerError)
		return
	}
	next := s.script[0]
	s.script = s.script[1:]
	s.mu.Unlock()

	if next.Delay > 0 {
		select {
		case <-time.After(next.Delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	for k, v := range next.Header {
		w.Header().Set(k, v)
	}
	status := next.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, next.Body)
}
