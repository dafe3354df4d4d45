package anthropic

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// fakeServer is a scripted Anthropic Messages API endpoint: each request gets the next
// scripted reply, and every request is recorded for assertions on the wire format.
type fakeServer struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	script []reply
	got    []received
}

type received struct {
	method, path string
	header       http.Header
	body         []byte
}

// reply is one scripted answer.
type reply struct {
	status int
	header map[string]string
	body   string
	// delay holds the answer back, or until the client gives up.
	delay time.Duration
}

func newFake(t *testing.T, script ...reply) *fakeServer {
	t.Helper()
	f := &fakeServer{t: t, script: script}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("reading request body: %v", err)
	}
	f.mu.Lock()
	f.got = append(f.got, received{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body})
	if len(f.script) == 0 {
		f.mu.Unlock()
		f.t.Errorf("unexpected request %d to %s", len(f.got), r.URL.Path)
		http.Error(w, `{"error":{"message":"no scripted reply","type":"server_error"}}`, http.StatusInternalServerError)
		return
	}
	next := f.script[0]
	f.script = f.script[1:]
	f.mu.Unlock()

	if next.delay > 0 {
		select {
		case <-time.After(next.delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	for k, v := range next.header {
		w.Header().Set(k, v)
	}
	status := next.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, next.body)
}

func (f *fakeServer) requests() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.got...)
}
