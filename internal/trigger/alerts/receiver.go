package alerts

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/log"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// PathPrefix is where the receiver is mounted; a trigger's URL is
// PathPrefix + "<namespace>/<name>".
const PathPrefix = "/alerts/"

// Defaults of the Receiver's limits.
const (
	// DefaultMaxBodyBytes bounds a payload. Alertmanager's payloads are a few KiB per
	// alert; a larger body is refused before it is parsed.
	DefaultMaxBodyBytes int64 = 1 << 20
	// DefaultMaxAlerts bounds the alerts of one Notification. A query's prompt is cut
	// at 16 KiB, so more alerts than this could not be shown to the model anyway.
	DefaultMaxAlerts = 50
)

// bodyReadTimeout bounds how long an authenticated caller may take to send the body,
// so a slow upload does not tie up a handler.
const bodyReadTimeout = 30 * time.Second

// logValueMax bounds the caller-chosen strings (group key, receiver) written to the
// log, so a large payload cannot make one huge log line.
const logValueMax = 256

// ErrPermanent is wrapped by a Fire (or Token) error that retrying cannot fix, such
// as a requester who may not create queries. Fire errors wrapping it answer 422, which
// Alertmanager does not retry; any other Fire error answers 503, which it does.
var ErrPermanent = errors.New("permanent failure")

// Notification is what the engine gets for one Alertmanager notification: the group,
// and only the alerts that passed the trigger's matchers.
type Notification struct {
	// GroupKey identifies the Alertmanager alert group across notifications.
	GroupKey string
	// Status is "firing" when at least one of Alerts (before truncation) fires, else
	// "resolved". It is computed over the matching alerts, not taken from the group:
	// when a trigger's alerts resolve while other alerts of the group still fire, the
	// trigger's loop is closed.
	Status   string
	Receiver string
	// GroupLabels, CommonLabels and CommonAnnotations are Alertmanager's, for the
	// whole group.
	GroupLabels       map[string]string
	CommonLabels      map[string]string
	CommonAnnotations map[string]string
	ExternalURL       string
	// Alerts are the matching alerts, at most Receiver.MaxAlerts, in payload order.
	Alerts []Alert
	// Truncated is how many alerts are missing from Alerts: the matching alerts beyond
	// Receiver.MaxAlerts plus those Alertmanager itself left out (its max_alerts;
	// whether they would have matched is unknown).
	Truncated uint64
}

// Response is the JSON body of every answer.
type Response struct {
	Message string `json:"message"`
	// Fired says whether the engine was handed a notification.
	Fired bool `json:"fired"`
	// Alerts is how many alerts the engine was handed.
	Alerts int `json:"alerts,omitempty"`
	// Truncated is Notification.Truncated.
	Truncated uint64 `json:"truncated,omitempty"`
}

// Receiver is the http.Handler of the Alertmanager webhook; see the package comment
// for its answers. Its fields are the engine's: the receiver has no client of its own.
type Receiver struct {
	// Trigger reads an AgentTrigger (from the operator's cache). A trigger that does
	// not exist is a NotFound error or a nil trigger.
	Trigger func(ctx context.Context, namespace, name string) (*agentsv1alpha1.AgentTrigger, error)
	// Token reads the value of t.Spec.Alerts.TokenSecretRef as t's requester. NotFound,
	// Forbidden, Unauthorized or ErrPermanent errors mean the token cannot be had and
	// answer 401; other errors are taken as passing and answer 503.
	Token func(ctx context.Context, t *agentsv1alpha1.AgentTrigger) (string, error)
	// Match says whether an alert's labels pass t.Spec.Alerts.Matchers. An error means
	// the matchers cannot be evaluated (422).
	Match func(t *agentsv1alpha1.AgentTrigger, labels map[string]string) (bool, error)
	// Fire hands the engine the matching alerts of a notification.
	Fire func(ctx context.Context, t *agentsv1alpha1.AgentTrigger, n Notification) error

	// MaxBodyBytes bounds a payload; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxAlerts bounds Notification.Alerts; 0 means DefaultMaxAlerts.
	MaxAlerts int
}

// Path is the path of a trigger's receiver, for Alertmanager's webhook_config url.
func Path(namespace, name string) string {
	return PathPrefix + namespace + "/" + name
}

// Validate reports a Receiver that is missing a dependency or has a negative limit.
// The engine calls it when wiring; ServeHTTP refuses to serve an invalid Receiver.
func (rc *Receiver) Validate() error {
	var missing []string
	if rc.Trigger == nil {
		missing = append(missing, "Trigger")
	}
	if rc.Token == nil {
		missing = append(missing, "Token")
	}
	if rc.Match == nil {
		missing = append(missing, "Match")
	}
	if rc.Fire == nil {
		missing = append(missing, "Fire")
	}
	if len(missing) > 0 {
		return fmt.Errorf("alerts.Receiver is missing %s", strings.Join(missing, ", "))
	}
	if rc.MaxBodyBytes < 0 || rc.MaxAlerts < 0 {
		return fmt.Errorf("alerts.Receiver limits must not be negative (MaxBodyBytes %d, MaxAlerts %d)", rc.MaxBodyBytes, rc.MaxAlerts)
	}
	return nil
}

func (rc *Receiver) maxBodyBytes() int64 {
	if rc.MaxBodyBytes == 0 {
		return DefaultMaxBodyBytes
	}
	return rc.MaxBodyBytes
}

func (rc *Receiver) maxAlerts() int {
	if rc.MaxAlerts == 0 {
		return DefaultMaxAlerts
	}
	return rc.MaxAlerts
}

// unauthorizedMessage is the one 401 answer: every authentication failure, including
// an unknown trigger, sends exactly this, so the answer never tells a trigger exists.
const unauthorizedMessage = `Unauthorized: send this trigger's token as "Authorization: Bearer <token>"`

// ServeHTTP handles one notification. The checks run cheapest and least revealing
// first: path and method depend on the request alone, authentication reads the
// trigger and its token, and only an authenticated body is read and parsed.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	logger := log.FromContext(ctx).WithName("alerts")
	if err := rc.Validate(); err != nil {
		logger.Error(err, "the alert receiver is not wired")
		writeResponse(w, http.StatusInternalServerError, Response{Message: "Internal Server Error: the alert receiver is misconfigured"})
		return
	}
	namespace, name, ok := parsePath(r.URL.EscapedPath())
	if !ok {
		writeResponse(w, http.StatusNotFound, Response{Message: "Not Found: the path must be " + PathPrefix + "<namespace>/<trigger>"})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeResponse(w, http.StatusMethodNotAllowed, Response{Message: "Method Not Allowed: Alertmanager posts notifications with POST"})
		return
	}
	limit := rc.maxBodyBytes()
	if r.ContentLength > limit {
		writeResponse(w, http.StatusRequestEntityTooLarge, tooLarge(limit))
		return
	}
	logger = logger.WithValues("namespace", namespace, "trigger", name)

	t, code, reason := rc.authenticate(ctx, r, namespace, name)
	switch code {
	case 0:
	case http.StatusUnauthorized:
		// reason never holds the token; it says which check failed, for the operator.
		logger.V(1).Info("refused an alert notification", "reason", reason, "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="kubeask-alerts"`)
		writeResponse(w, http.StatusUnauthorized, Response{Message: unauthorizedMessage})
		return
	default:
		logger.Error(errors.New(reason), "could not authenticate an alert notification")
		writeResponse(w, code, Response{Message: "Service Unavailable: the trigger could not be read; retry later"})
		return
	}

	if t.DeletionTimestamp != nil {
		logger.Info("alert notification ignored: the trigger is being deleted")
		writeResponse(w, http.StatusGone, Response{Message: "Gone: the trigger is being deleted"})
		return
	}
	if t.Spec.Suspend {
		logger.Info("alert notification ignored: the trigger is suspended")
		writeResponse(w, http.StatusOK, Response{Message: "the trigger is suspended; nothing fired"})
		return
	}

	msg, code, problem := readMessage(w, r, limit)
	if code != 0 {
		logger.V(1).Info("refused an alert notification", "reason", clip(problem))
		if code == http.StatusRequestEntityTooLarge {
			writeResponse(w, code, tooLarge(limit))
			return
		}
		writeResponse(w, code, Response{Message: "Bad Request: " + problem})
		return
	}
	logger = logger.WithValues("groupKey", clip(msg.GroupKey), "receiver", clip(msg.Receiver), "groupStatus", msg.Status, "received", len(msg.Alerts))

	n, matched, err := rc.notification(t, msg)
	if err != nil {
		logger.Error(err, "alert notification refused: the trigger's matchers cannot be evaluated")
		writeResponse(w, http.StatusUnprocessableEntity, Response{Message: "Unprocessable: the trigger's alert matchers cannot be evaluated: " + err.Error()})
		return
	}
	if matched == 0 {
		logger.Info("alert notification accepted: no alert matched")
		writeResponse(w, http.StatusOK, Response{Message: "no alert matched the trigger's matchers; nothing fired"})
		return
	}

	logger = logger.WithValues("status", n.Status, "matched", matched, "fired", len(n.Alerts), "truncated", n.Truncated)
	if err := rc.Fire(ctx, t, n); err != nil {
		if errors.Is(err, ErrPermanent) {
			logger.Error(err, "alert notification refused for good")
			// The caller holds the trigger's token, so it may learn why.
			writeResponse(w, http.StatusUnprocessableEntity, Response{Message: "Unprocessable: " + err.Error()})
			return
		}
		logger.Error(err, "alert notification not fired; Alertmanager will retry")
		writeResponse(w, http.StatusServiceUnavailable, Response{Message: "Service Unavailable: the notification could not be handled; retry later"})
		return
	}
	logger.Info("alert notification accepted")
	resp := Response{Fired: true, Alerts: len(n.Alerts), Truncated: n.Truncated,
		Message: fmt.Sprintf("fired with %d %s alert(s)", len(n.Alerts), n.Status)}
	if n.Truncated > 0 {
		resp.Message += fmt.Sprintf("; %d alert(s) left out", n.Truncated)
	}
	writeResponse(w, http.StatusOK, resp)
}

// authenticate returns the trigger when the request carries its token. Otherwise
// code is 401 or 503 and reason says why, for the log only.
func (rc *Receiver) authenticate(ctx context.Context, r *http.Request, namespace, name string) (*agentsv1alpha1.AgentTrigger, int, string) {
	presented, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		return nil, http.StatusUnauthorized, "no bearer token"
	}
	t, err := rc.Trigger(ctx, namespace, name)
	switch {
	case apierrors.IsNotFound(err) || (err == nil && t == nil):
		return nil, http.StatusUnauthorized, "no such trigger"
	case err != nil:
		return nil, http.StatusServiceUnavailable, "reading the trigger: " + err.Error()
	}
	if t.Spec.Alerts == nil {
		// Without spec.alerts there is no token to check against, so this cannot be
		// told apart from an unknown trigger.
		return nil, http.StatusUnauthorized, "the trigger has no alerts source"
	}
	want, err := rc.Token(ctx, t)
	switch {
	case err != nil && tokenUnavailable(err):
		return nil, http.StatusUnauthorized, "the token Secret cannot be read as the requester: " + err.Error()
	case err != nil:
		return nil, http.StatusServiceUnavailable, "reading the token Secret: " + err.Error()
	}
	if !tokensEqual(presented, want) {
		return nil, http.StatusUnauthorized, "wrong or empty token"
	}
	return t, 0, ""
}

// tokenUnavailable tells a token that cannot be had (answered like a wrong token)
// from a passing failure to read it (answered 503, so Alertmanager retries).
func tokenUnavailable(err error) bool {
	return errors.Is(err, ErrPermanent) || apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err)
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header (the
// scheme is case-insensitive, RFC 7235); no other scheme is accepted.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// tokensEqual compares in constant time. Hashing first makes the comparison take
// the same time whatever the lengths, which subtle.ConstantTimeCompare alone does not.
// Surrounding whitespace of the Secret's value is ignored, as Alertmanager's
// credentials_file does, so a Secret made with --from-file and a trailing newline
// works. An empty Secret value never authenticates anyone.
func tokensEqual(presented, secret string) bool {
	secret = strings.TrimSpace(secret)
	if secret == "" || presented == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(presented)), sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// parsePath splits /alerts/<namespace>/<name>. It works on the escaped path, so an
// encoded slash or any escape is not a DNS name and is refused.
func parsePath(p string) (namespace, name string, ok bool) {
	rest, ok := strings.CutPrefix(p, PathPrefix)
	if !ok {
		return "", "", false
	}
	namespace, name, ok = strings.Cut(rest, "/")
	if !ok || len(validation.IsDNS1123Label(namespace)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		return "", "", false
	}
	return namespace, name, true
}

// readMessage reads and checks the body. On failure code is 400 or 413 and problem
// says what is wrong, for the caller (who is authenticated by now).
func readMessage(w http.ResponseWriter, r *http.Request, limit int64) (*Message, int, string) {
	if r.Body == nil {
		return nil, http.StatusBadRequest, "the body is empty"
	}
	rc := http.NewResponseController(w)
	// Not every ResponseWriter supports deadlines (httptest's does not); the server's
	// own timeouts still apply then.
	_ = rc.SetReadDeadline(time.Now().Add(bodyReadTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	// Clear the deadline so it cannot fire while the engine works.
	_ = rc.SetReadDeadline(time.Time{})
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return nil, http.StatusRequestEntityTooLarge, "the body is too large"
	}
	if err != nil {
		return nil, http.StatusBadRequest, "reading the body: " + err.Error()
	}
	var msg Message
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, http.StatusBadRequest, "the body is not an Alertmanager webhook payload: " + err.Error()
	}
	if problem := checkMessage(&msg); problem != "" {
		return nil, http.StatusBadRequest, problem
	}
	return &msg, 0, ""
}

// checkMessage returns what makes msg unusable, or "". Caller-chosen values are
// quoted and cut short in the answer.
func checkMessage(msg *Message) string {
	if msg.Version != Version {
		return fmt.Sprintf("unsupported payload version %.16q; kubeask reads Alertmanager's webhook version %q", msg.Version, Version)
	}
	if msg.GroupKey == "" {
		return "groupKey is required"
	}
	if !validStatus(msg.Status) {
		return fmt.Sprintf("status is %.16q; want %q or %q", msg.Status, StatusFiring, StatusResolved)
	}
	for i := range msg.Alerts {
		if !validStatus(msg.Alerts[i].Status) {
			return fmt.Sprintf("alerts[%d].status is %.16q; want %q or %q", i, msg.Alerts[i].Status, StatusFiring, StatusResolved)
		}
	}
	return ""
}

func validStatus(s string) bool { return s == StatusFiring || s == StatusResolved }

// notification builds what the engine gets from the alerts that match t, and
// returns how many matched (before truncation).
func (rc *Receiver) notification(t *agentsv1alpha1.AgentTrigger, msg *Message) (Notification, int, error) {
	var matching []Alert
	status := StatusResolved
	for _, a := range msg.Alerts {
		ok, err := rc.Match(t, a.Labels)
		if err != nil {
			return Notification{}, 0, err
		}
		if !ok {
			continue
		}
		matching = append(matching, a)
		if a.Status == StatusFiring {
			status = StatusFiring
		}
	}
	matched := len(matching)
	truncated := msg.TruncatedAlerts
	if limit := rc.maxAlerts(); len(matching) > limit {
		truncated = addSaturating(truncated, uint64(len(matching)-limit)) //nolint:gosec // G115: positive, len(matching) > limit
		matching = matching[:limit:limit]
	}
	return Notification{
		GroupKey:          msg.GroupKey,
		Status:            status,
		Receiver:          msg.Receiver,
		GroupLabels:       msg.GroupLabels,
		CommonLabels:      msg.CommonLabels,
		CommonAnnotations: msg.CommonAnnotations,
		ExternalURL:       msg.ExternalURL,
		Alerts:            matching,
		Truncated:         truncated,
	}, matched, nil
}

// addSaturating adds without wrapping: truncatedAlerts is the caller's number.
func addSaturating(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

func tooLarge(limit int64) Response {
	return Response{Message: fmt.Sprintf("Content Too Large: the body may have at most %d bytes (lower max_alerts in Alertmanager's webhook_config)", limit)}
}

// clip cuts s to about logValueMax bytes, on a rune boundary.
func clip(s string) string {
	if len(s) <= logValueMax {
		return s
	}
	end := logValueMax
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + "…"
}

func writeResponse(w http.ResponseWriter, code int, resp Response) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	// The status line is what Alertmanager acts on; a failed body write changes nothing.
	_ = json.NewEncoder(w).Encode(resp) //nolint:errchkjson // Response is plain strings and numbers; a failed write changes nothing
}
