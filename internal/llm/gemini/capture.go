package gemini

import (
	"context"
	"net/http"
	"sync"
)

// genai.APIError carries the body of a failed response but not its headers, so a
// Retry-After header (sent by proxies in front of Gemini) would be lost. A transport
// copies the headers of failed responses into a slot the Chat call put in the request
// context; each call has its own slot, so concurrent calls do not mix them up.

type captureKey struct{}

type capturedHeader struct {
	mu     sync.Mutex
	header http.Header
}

func (c *capturedHeader) set(h http.Header) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.header = h
}

func (c *capturedHeader) get() http.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.header
}

func withCapture(ctx context.Context, slot *capturedHeader) context.Context {
	return context.WithValue(ctx, captureKey{}, slot)
}

type captureTransport struct {
	next http.RoundTripper
}

func (t captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if resp != nil && resp.StatusCode >= http.StatusBadRequest {
		if slot, ok := req.Context().Value(captureKey{}).(*capturedHeader); ok {
			slot.set(resp.Header.Clone())
		}
	}
	return resp, err
}

// withHeaderCapture returns a copy of base (or of a default client) whose transport
// captures failed responses' headers. base itself is left untouched.
func withHeaderCapture(base *http.Client) *http.Client {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = captureTransport{next: next}
	return c
}
