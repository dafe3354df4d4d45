package notify

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// Defaults of a Notifier's zero fields. With them a target that keeps failing costs
// at most 4 attempts of 10 s and 1+2+4 s of waiting, well inside the one-minute budget.
const (
	DefaultAttempts       = 4
	DefaultInitialBackoff = time.Second
	DefaultMaxBackoff     = 30 * time.Second
	DefaultMaxElapsed     = time.Minute
	DefaultAttemptTimeout = 10 * time.Second
	DefaultUserAgent      = "kubeask-trigger-notify/1"
)

// Target names, as they appear in a Result.
const (
	TargetWebhook = "webhook"
	TargetSlack   = "slack"
)

// Error texts are capped so that both targets' errors fit the trigger's
// status.lastDeliveryError (1 KiB) together.
const (
	maxTargetError = 480
	// MaxErrorLen is the longest Result.Error.
	MaxErrorLen = 1024
)

// Notifier delivers answers to notify targets. The zero value is ready to use; it is
// safe for concurrent use as long as its fields are not changed.
type Notifier struct {
	// Client sends the requests; nil means a client with http.DefaultTransport.
	// Whatever its CheckRedirect, redirects are never followed.
	Client *http.Client
	// UserAgent is sent with every request; empty means DefaultUserAgent.
	UserAgent string
	// Attempts bounds the tries per target, the first included.
	Attempts int
	// InitialBackoff is the wait after the first failed attempt; it doubles after
	// each further one, up to MaxBackoff. MaxBackoff also caps a Retry-After.
	InitialBackoff, MaxBackoff time.Duration
	// MaxElapsed bounds a target's delivery: no retry starts a wait that would end
	// after it (measured with Now).
	MaxElapsed time.Duration
	// AttemptTimeout bounds one request, from sending to reading the response.
	AttemptTimeout time.Duration
	// Sleep waits d or until ctx ends, returning ctx.Err() then. Nil means a timer;
	// tests inject one that returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for the MaxElapsed budget and HTTP-date Retry-After values;
	// nil means time.Now.
	Now func() time.Time
}

// Result says how delivery to each configured target went.
type Result struct {
	// Targets are the configured targets in a fixed order: webhook, then slack.
	Targets []TargetResult
}

// TargetResult is the outcome of one target.
type TargetResult struct {
	// Target is TargetWebhook or TargetSlack.
	Target string
	// Attempts is how many requests were sent (0 when the Secrets or the URL were
	// unusable).
	Attempts int
	// Error is empty when the target took the message; otherwise it says why not,
	// for people, in at most 480 bytes, and never contains the URL or the token.
	Error string
}

// Delivered reports whether every target took the message. With no targets it is true.
func (r Result) Delivered() bool {
	for _, t := range r.Targets {
		if t.Error != "" {
			return false
		}
	}
	return true
}

// Error joins the failed targets' errors ("webhook: ...; slack: ..."), at most
// MaxErrorLen bytes, for status.lastDeliveryError. It is empty when Delivered.
func (r Result) Error() string {
	var parts []string
	for _, t := range r.Targets {
		if t.Error != "" {
			parts = append(parts, t.Target+": "+t.Error)
		}
	}
	return capText(strings.Join(parts, "; "), MaxErrorLen)
}

// Deliver sends msg to each of targets (nil means none) and reports how each went.
// The targets are independent: they are delivered concurrently and one failing does
// not stop the other.
//
// secrets must read as the trigger's requester (an impersonating, uncached reader), so
// that a trigger can only use Secrets its author may read; namespace is the trigger's.
// Secrets are read on every call, so a rotated URL or token is used from the next
// delivery on. Unreadable Secrets and invalid URLs are not retried; nor is a Secret
// read that failed for another reason (the caller decides whether to try again later).
func (n *Notifier) Deliver(ctx context.Context, secrets client.Reader, namespace string, targets *agentsv1alpha1.Notify, msg Message) Result {
	type job struct {
		name   string
		target *agentsv1alpha1.WebhookTarget
		body   any
	}
	var jobs []job
	if targets != nil && targets.Webhook != nil {
		jobs = append(jobs, job{TargetWebhook, targets.Webhook, NewDocument(msg)})
	}
	if targets != nil && targets.Slack != nil {
		jobs = append(jobs, job{TargetSlack, targets.Slack, NewSlackPayload(msg)})
	}
	res := Result{Targets: make([]TargetResult, len(jobs))}
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			attempts, err := n.deliverTo(ctx, secrets, namespace, j.name, j.target, j.body)
			res.Targets[i] = TargetResult{Target: j.name, Attempts: attempts, Error: capText(err, maxTargetError)}
		})
	}
	wg.Wait()
	return res
}

// deliverTo reads one target's Secrets, validates its URL and posts body to it. It
// returns the attempts made and an error text safe to show (empty on success).
func (n *Notifier) deliverTo(ctx context.Context, secrets client.Reader, namespace, name string,
	target *agentsv1alpha1.WebhookTarget, body any) (int, string) {
	rawURL, err := readSecretKey(ctx, secrets, namespace, target.URLSecretRef, "URL")
	if err != "" {
		return 0, err
	}
	endpoint, err := parseURL(rawURL, namespace, target.URLSecretRef)
	if err != "" {
		return 0, err
	}
	var token string
	if ref := target.TokenSecretRef; ref != nil {
		if token, err = readSecretKey(ctx, secrets, namespace, *ref, "token"); err != "" {
			return 0, err
		}
		if !validHeaderValue(token) {
			return 0, fmt.Sprintf("the token in Secret %s/%s key %q has characters an HTTP header cannot carry",
				namespace, ref.Name, ref.Key)
		}
	}
	data, jerr := encodeJSON(body)
	if jerr != nil {
		// Only strings and booleans: marshalling cannot fail.
		return 0, fmt.Sprintf("encoding the %s body: %v", name, jerr)
	}
	r := newRedactor(rawURL, endpoint, token)
	attempts, msg := n.post(ctx, endpoint, token, data)
	return attempts, r.redact(msg)
}

// readSecretKey returns the trimmed value of one Secret key, or an error text. The
// API server writes a forbidden error as the impersonated user ("User \"alice\"
// cannot get resource \"secrets\" ..."), which is exactly what the trigger's author
// needs to read.
func readSecretKey(ctx context.Context, secrets client.Reader, namespace string,
	ref agentsv1alpha1.SecretKeySelector, what string) (string, string) {
	var secret corev1.Secret
	err := secrets.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, &secret)
	switch {
	case apierrors.IsForbidden(err):
		return "", fmt.Sprintf("the requester may not read Secret %s/%s (the %s): %s", namespace, ref.Name, what, err.Error())
	case apierrors.IsNotFound(err):
		return "", fmt.Sprintf("Secret %s/%s (the %s) not found", namespace, ref.Name, what)
	case err != nil:
		return "", fmt.Sprintf("reading Secret %s/%s (the %s): %s", namespace, ref.Name, what, err.Error())
	}
	value, ok := secret.Data[ref.Key]
	if !ok {
		return "", fmt.Sprintf("Secret %s/%s has no key %q (the %s)", namespace, ref.Name, ref.Key, what)
	}
	// `kubectl create secret --from-file` keeps the trailing newline of an echoed value.
	v := strings.TrimSpace(string(value))
	if v == "" {
		return "", fmt.Sprintf("key %q of Secret %s/%s (the %s) is empty", ref.Key, namespace, ref.Name, what)
	}
	return v, ""
}

// parseURL accepts an absolute http or https URL with a host. Its errors never echo
// the URL, nor url.Parse's error (which quotes it): the URL may be the credential.
func parseURL(raw, namespace string, ref agentsv1alpha1.SecretKeySelector) (*url.URL, string) {
	where := fmt.Sprintf("the URL in Secret %s/%s key %q", namespace, ref.Name, ref.Key)
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, where + " is not a valid URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, where + " must be an https URL (or http, for a receiver inside the cluster)"
	case u.Host == "" || u.Hostname() == "":
		return nil, where + " has no host"
	}
	return u, ""
}

// validHeaderValue rejects control characters, which would split or break the
// Authorization header.
func validHeaderValue(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || (unicode.IsControl(r) && r != '\t') {
			return false
		}
	}
	return true
}

// capText cuts s to at most n bytes on a character boundary, marking the cut.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	end := n - len(mark)
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + mark
}
