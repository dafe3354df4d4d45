package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
)

// outcome is what one request came to.
type outcome struct {
	ok    bool
	retry bool
	// retryAfter is the wait the receiver asked for; negative when it asked for none.
	retryAfter time.Duration
	// err says why the request failed; it may contain the URL or the token until
	// the caller redacts it.
	err string
}

// post sends body to endpoint, retrying with exponential backoff what may pass by
// itself (network errors, timeouts, 408, 429 and 5xx) and nothing else. It returns
// the attempts made and, on failure, why, not yet redacted.
func (n *Notifier) post(ctx context.Context, endpoint *url.URL, token string, body []byte) (int, string) {
	hc := n.httpClient()
	start := n.now()
	backoff := orDefault(n.InitialBackoff, DefaultInitialBackoff)
	maxBackoff := orDefault(n.MaxBackoff, DefaultMaxBackoff)
	maxElapsed := orDefault(n.MaxElapsed, DefaultMaxElapsed)
	attempts := n.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return attempt - 1, "delivery stopped: " + err.Error()
		}
		out := n.attempt(ctx, hc, endpoint, token, body)
		switch {
		case out.ok:
			return attempt, ""
		case !out.retry:
			return attempt, out.err + afterAttempts(attempt)
		case attempt >= attempts:
			return attempt, fmt.Sprintf("%s; gave up after %d attempts", out.err, attempt)
		}
		wait := backoff
		if out.retryAfter >= 0 {
			wait = min(out.retryAfter, maxBackoff)
		}
		backoff = min(2*backoff, maxBackoff)
		if n.now().Add(wait).Sub(start) > maxElapsed {
			return attempt, fmt.Sprintf("%s; gave up after %d attempts, as the next would start after the %s budget",
				out.err, attempt, maxElapsed)
		}
		if err := n.sleep(ctx, wait); err != nil {
			return attempt, fmt.Sprintf("%s; delivery stopped after %d attempts: %v", out.err, attempt, err)
		}
	}
}

func afterAttempts(n int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf(" (attempt %d)", n)
}

// attempt sends one request and classifies its result.
func (n *Notifier) attempt(ctx context.Context, hc *http.Client, endpoint *url.URL, token string, body []byte) outcome {
	timeout := orDefault(n.AttemptTimeout, DefaultAttemptTimeout)
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, endpoint.String(), bytes.NewReader(body))
	if err != nil {
		return outcome{err: "building the request: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	ua := n.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	req.Header.Set("User-Agent", ua)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return outcome{err: "delivery stopped: " + ctx.Err().Error()}
		case actx.Err() != nil:
			return outcome{retry: true, retryAfter: -1, err: fmt.Sprintf("the receiver did not answer within %s", timeout)}
		}
		return transportOutcome(err)
	}
	defer func() {
		// Reading the rest lets the connection be reused; the bound keeps a receiver
		// that streams forever from holding the delivery until the timeout.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return outcome{ok: true}
	case code >= 300 && code < 400:
		// Following would send the body, and with some clients the token, to wherever
		// the receiver points; the Location is not shown as it may hold a credential too.
		return outcome{err: fmt.Sprintf("the receiver answered %s, a redirect, which is not followed so that "+
			"nothing is sent elsewhere; put the final URL in the Secret", status(code))}
	}
	text := fmt.Sprintf("the receiver answered %s", status(code))
	if s := snippet(resp.Body); s != "" {
		text += ": " + s
	}
	if code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500 {
		return outcome{retry: true, retryAfter: n.retryAfter(resp.Header.Get("Retry-After")), err: text}
	}
	return outcome{err: text}
}

// transportOutcome classifies an error of a request that got no response. Network
// errors are retried, except an untrusted certificate, which will not change by itself.
func transportOutcome(err error) outcome {
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err // ue.Error() quotes the URL
	}
	var certErr *tls.CertificateVerificationError
	var authErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, errLinkLocal):
		return outcome{err: errLinkLocal.Error()} // never retried: the address will not change its nature
	case errors.As(err, &certErr), errors.As(err, &authErr), errors.As(err, &hostErr):
		return outcome{err: "the receiver's TLS certificate is not trusted: " + inner.Error()}
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return outcome{retry: true, retryAfter: -1, err: "the receiver's host name does not resolve"}
	case errors.As(err, &dnsErr):
		return outcome{retry: true, retryAfter: -1, err: "looking up the receiver's host name failed"}
	case errors.Is(err, syscall.ECONNREFUSED):
		return outcome{retry: true, retryAfter: -1, err: "the receiver refused the connection"}
	}
	return outcome{retry: true, retryAfter: -1, err: "sending failed: " + inner.Error()}
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date
// (RFC 9110, section 10.2.3). Negative means absent or unreadable.
func (n *Notifier) retryAfter(h string) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return -1
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs < 0 {
			return -1
		}
		// Avoid overflowing Duration on absurd values; the caller caps the wait anyway.
		return time.Duration(min(secs, 1<<20)) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(n.now()), 0)
	}
	return -1
}

// snippet returns the start of a response body on one line, because receivers such as
// Slack say what is wrong there ("invalid_token", "no_service").
func snippet(body io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(body, 512))
	s := strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, string(b))), " ")
	return capText(s, 160)
}

func status(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return strconv.Itoa(code)
}

// httpClient returns a copy of the configured client that never follows a redirect.
func (n *Notifier) httpClient() *http.Client {
	var hc http.Client
	if n.Client != nil {
		hc = *n.Client
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &hc
}

func (n *Notifier) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

func (n *Notifier) sleep(ctx context.Context, d time.Duration) error {
	if n.Sleep != nil {
		return n.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// redactor removes a target's URL, its parts and its token from a text. Error texts
// are built not to contain them; this is the second line, for texts that come from
// elsewhere (a transport error naming host and port, a receiver echoing the request).
type redactor struct {
	secrets []string
}

func newRedactor(raw string, u *url.URL, token string) redactor {
	candidates := []string{raw, u.String(), u.Redacted(), u.Host, u.Hostname(), u.Path, u.EscapedPath(), u.RawQuery, token}
	if u.User != nil {
		candidates = append(candidates, u.User.String())
	}
	var secrets []string
	for _, c := range candidates {
		if c != "" && c != "/" && !slices.Contains(secrets, c) {
			secrets = append(secrets, c)
		}
	}
	// Longest first, so that a URL goes as a whole rather than leaving pieces around
	// a redacted host.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	return redactor{secrets: secrets}
}

func (r redactor) redact(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	return s
}
