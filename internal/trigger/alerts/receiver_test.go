package alerts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestFiringAndResolvedNotifications(t *testing.T) {
	checkout := map[string]string{
		"alertname": "KubePodCrashLooping", "container": "checkout", "job": "kube-state-metrics",
		"namespace": "team-a", "pod": "checkout-7d9f8b6c5-x2x4q", "prometheus": "monitoring/k8s", "severity": "warning",
	}
	annotations := map[string]string{
		"description": `Pod team-a/checkout-7d9f8b6c5-x2x4q (checkout) is in waiting state (reason: "CrashLoopBackOff").`,
		"runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping",
		"summary":     "Pod is crash looping.",
	}
	group := func(status string, endsAt time.Time) Notification {
		return Notification{
			GroupKey:          `{}/{namespace="team-a"}:{alertname="KubePodCrashLooping", namespace="team-a"}`,
			Status:            status,
			Receiver:          "kubeask-team-a",
			GroupLabels:       map[string]string{"alertname": "KubePodCrashLooping", "namespace": "team-a"},
			CommonLabels:      checkout,
			CommonAnnotations: annotations,
			ExternalURL:       "http://alertmanager-main.monitoring.svc:9093",
			Alerts: []Alert{{
				Status:       status,
				Labels:       checkout,
				Annotations:  annotations,
				StartsAt:     mustTime(t, "2025-03-14T09:26:53.317Z"),
				EndsAt:       endsAt,
				GeneratorURL: "http://prometheus-k8s-0:9090/graph?g0.expr=max_over_time%28kube_pod_container_status_waiting_reason%7Breason%3D%22CrashLoopBackOff%22%7D%5B5m%5D%29+%3E%3D+1&g0.tab=1",
				Fingerprint:  "4c3e5fa1d0b8e2a7",
			}},
		}
	}
	tests := []struct {
		payload string
		want    Notification
	}{
		{"firing.json", group(StatusFiring, time.Time{})},
		{"resolved.json", group(StatusResolved, mustTime(t, "2025-03-14T10:01:53.317Z"))},
	}
	for _, tt := range tests {
		t.Run(tt.payload, func(t *testing.T) {
			w := newWorld()
			res := post(t, w.receiver(), "/alerts/team-a/crashloop", bearer(goodToken), payload(t, tt.payload))
			if res.code != http.StatusOK || !res.resp.Fired || res.resp.Alerts != 1 {
				t.Fatalf("answer %d %+v, want 200 fired with 1 alert", res.code, res.resp)
			}
			if len(w.fired) != 1 || w.fired[0].trigger != "team-a/crashloop" {
				t.Fatalf("fired %+v, want one notification for team-a/crashloop", w.fired)
			}
			if got := w.fired[0].n; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("notification\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestEndToEnd goes through a real HTTP server and client, as Alertmanager would.
func TestEndToEnd(t *testing.T) {
	w := newWorld()
	srv := httptest.NewServer(w.receiver())
	defer srv.Close()

	send := func(body io.Reader, contentLength int64) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+Path("team-a", "crashloop"), body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = contentLength
		req.Header.Set("Authorization", bearer(goodToken))
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp
	}

	body := payload(t, "firing.json")
	if resp := send(bytes.NewReader(body), int64(len(body))); resp.StatusCode != http.StatusOK { //nolint:bodyclose // send closed it
		t.Fatalf("firing payload answered %s", resp.Status)
	}
	if len(w.fired) != 1 {
		t.Fatalf("fired %d notifications, want 1", len(w.fired))
	}
	// A chunked body (no Content-Length) over the limit is cut while it is read.
	huge := io.MultiReader(strings.NewReader(`{"version":"4","groupKey":"`), strings.NewReader(strings.Repeat("x", int(DefaultMaxBodyBytes))))
	if resp := send(huge, -1); resp.StatusCode != http.StatusRequestEntityTooLarge { //nolint:bodyclose // send closed it
		t.Fatalf("chunked oversize body answered %s, want 413", resp.Status)
	}
	if len(w.fired) != 1 {
		t.Fatalf("an oversize body fired")
	}
}

func TestMethodNotAllowed(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		t.Run(method, func(t *testing.T) {
			w := newWorld()
			rec := httptest.NewRecorder()
			req := httptest.NewRequestWithContext(t.Context(), method, "/alerts/team-a/crashloop", bytes.NewReader(payload(t, "firing.json")))
			req.Header.Set("Authorization", bearer(goodToken))
			w.receiver().ServeHTTP(rec, req)
			if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != http.MethodPost {
				t.Fatalf("answer %d Allow %q, want 405 Allow POST", rec.Code, rec.Header().Get("Allow"))
			}
			if len(w.fired) != 0 || len(w.tokenReads) != 0 {
				t.Fatalf("a %s read the token or fired", method)
			}
		})
	}
}

func TestPathNotFound(t *testing.T) {
	for _, path := range []string{
		"/",
		"/alerts",
		"/alerts/",
		"/alerts/team-a",
		"/alerts/team-a/",
		"/alerts//crashloop",
		"/alerts/team-a/crashloop/",
		"/alerts/team-a/crashloop/extra",
		"/alerts/Team-A/crashloop",
		"/alerts/team-a/CrashLoop",
		"/alerts/team.a/crashloop", // a namespace is a DNS label, without dots
		"/alerts/team-a/crash%2Floop",
		"/alerts/team-a/crash%6Coop", // escapes are never DNS names
		"/alerts/team-a/..",
		"/alerts/../alerts/team-a/crashloop",
		"/other/team-a/crashloop",
		"/alerts/team-a/" + strings.Repeat("a", 254),
	} {
		t.Run(path, func(t *testing.T) {
			w := newWorld()
			rec := httptest.NewRecorder()
			req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", bytes.NewReader(payload(t, "firing.json")))
			// Set the URL as parsed, unresolved: httptest.NewRequest would clean dots.
			u, err := url.Parse(path)
			if err != nil {
				t.Fatal(err)
			}
			req.URL = u
			req.Header.Set("Authorization", bearer(goodToken))
			w.receiver().ServeHTTP(rec, req)
			if rec.Code != http.StatusNotFound {
				t.Fatalf("answer %d, want 404", rec.Code)
			}
			if len(w.tokenReads) != 0 || len(w.fired) != 0 {
				t.Fatal("a bad path read a token or fired")
			}
		})
	}
}

func TestPath(t *testing.T) {
	p := Path("team-a", "crashloop")
	if p != "/alerts/team-a/crashloop" {
		t.Fatalf("Path = %q", p)
	}
	if ns, name, ok := parsePath(p); !ok || ns != "team-a" || name != "crashloop" {
		t.Fatalf("parsePath(%q) = %q, %q, %v", p, ns, name, ok)
	}
	// A trigger name is a DNS subdomain, so it may have dots.
	if _, name, ok := parsePath(Path("team-a", "checkout.crashloop")); !ok || name != "checkout.crashloop" {
		t.Fatalf("a dotted name was refused")
	}
}

// TestUnauthorizedIsIndistinguishable: whatever failed, the answer is the same, so a
// caller cannot tell an existing trigger from an unknown one.
func TestUnauthorizedIsIndistinguishable(t *testing.T) {
	tests := []struct {
		name, path, authorization string
	}{
		{"unknown trigger, good token", "/alerts/team-a/nope", bearer(goodToken)},
		{"unknown namespace", "/alerts/team-q/crashloop", bearer(goodToken)},
		{"wrong token", "/alerts/team-a/crashloop", bearer("amwh-4f9c2d7e1b8a6036")},
		{"token prefix", "/alerts/team-a/crashloop", bearer(goodToken[:len(goodToken)-1])},
		{"token with suffix", "/alerts/team-a/crashloop", bearer(goodToken + "0")},
		{"no header", "/alerts/team-a/crashloop", ""},
		{"scheme only", "/alerts/team-a/crashloop", "Bearer"},
		{"empty token", "/alerts/team-a/crashloop", "Bearer  "},
		{"raw token without scheme", "/alerts/team-a/crashloop", goodToken},
		{"basic auth", "/alerts/team-a/crashloop", "Basic " + goodToken},
		{"token in another scheme", "/alerts/team-a/crashloop", "Token " + goodToken},
		{"empty secret, empty token", "/alerts/team-a/empty", "Bearer "},
		{"empty secret, some token", "/alerts/team-a/empty", bearer("x")},
		{"blank secret", "/alerts/team-a/blank", bearer("x")},
		{"secret missing", "/alerts/team-a/no-secret", bearer(goodToken)},
		{"trigger without alerts source", "/alerts/team-a/nightly", bearer(goodToken)},
	}
	var first *result
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld()
			res := post(t, w.receiver(), tt.path, tt.authorization, payload(t, "firing.json"))
			if res.code != http.StatusUnauthorized {
				t.Fatalf("answer %d %q, want 401", res.code, res.body)
			}
			if len(w.fired) != 0 {
				t.Fatal("fired without a correct token")
			}
			if first == nil {
				first = &res
				return
			}
			if res.body != first.body || !reflect.DeepEqual(res.header, first.header) {
				t.Fatalf("the answer differs from %q's:\n%v %q\n%v %q", tests[0].name, res.header, res.body, first.header, first.body)
			}
		})
	}
}

// TestTokenComesFromTheSecret: the token is whatever the Token function reads from the
// trigger's Secret now, not a value fixed anywhere else.
func TestTokenComesFromTheSecret(t *testing.T) {
	w := newWorld()
	h := w.receiver()
	if res := post(t, h, "/alerts/team-a/everything", bearer(goodToken), payload(t, "firing.json")); res.code != http.StatusOK {
		t.Fatalf("answer %d, want 200", res.code)
	}
	if !reflect.DeepEqual(w.tokenReads, []string{"team-a/everything"}) {
		t.Fatalf("token reads %v, want the trigger's", w.tokenReads)
	}

	// Rotated, with the trailing newline of a Secret made with --from-file.
	w.secrets["team-a/am-token"]["token"] = "amwh-rotated-0c1d2e3f\n"
	if res := post(t, h, "/alerts/team-a/everything", bearer(goodToken), payload(t, "firing.json")); res.code != http.StatusUnauthorized {
		t.Fatalf("the old token answered %d after rotation, want 401", res.code)
	}
	if res := post(t, h, "/alerts/team-a/everything", "bearer amwh-rotated-0c1d2e3f", payload(t, "firing.json")); res.code != http.StatusOK {
		t.Fatalf("the new token answered %d %q, want 200", res.code, res.body)
	}
	if len(w.fired) != 2 {
		t.Fatalf("fired %d times, want 2", len(w.fired))
	}
}

func TestUnavailable(t *testing.T) {
	secrets := schema.GroupResource{Resource: "secrets"}
	tests := []struct {
		name                 string
		triggerErr, tokenErr error
		want                 int
	}{
		{"cache not ready", errors.New("the cache is not started"), nil, http.StatusServiceUnavailable},
		{"token read times out", nil, apierrors.NewTimeoutError("reading the secret", 1), http.StatusServiceUnavailable},
		{"token read fails", nil, errors.New("connection refused"), http.StatusServiceUnavailable},
		{"requester may not read the secret", nil, apierrors.NewForbidden(secrets, "am-token", errors.New("no")), http.StatusUnauthorized},
		{"secret gone", nil, apierrors.NewNotFound(secrets, "am-token"), http.StatusUnauthorized},
		{"engine refuses the requester", nil, fmt.Errorf("impersonating alice: %w", ErrPermanent), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld()
			w.triggerErr, w.tokenErr = tt.triggerErr, tt.tokenErr
			res := post(t, w.receiver(), "/alerts/team-a/crashloop", bearer(goodToken), payload(t, "firing.json"))
			if res.code != tt.want || len(w.fired) != 0 {
				t.Fatalf("answer %d (fired %d), want %d and nothing fired", res.code, len(w.fired), tt.want)
			}
			if res.code == http.StatusUnauthorized && res.resp.Message != unauthorizedMessage {
				t.Fatalf("401 body %q differs from the usual one", res.body)
			}
		})
	}
}

func TestBodyTooLarge(t *testing.T) {
	w := newWorld()
	h := w.receiver()
	h.MaxBodyBytes = 512
	big := payload(t, "firing.json") // about 2 KiB

	// Declared too large: refused before anything is read.
	if res := post(t, h, "/alerts/team-a/crashloop", bearer(goodToken), big); res.code != http.StatusRequestEntityTooLarge {
		t.Fatalf("answer %d, want 413", res.code)
	}
	if len(w.tokenReads) != 0 {
		t.Fatal("a declared oversize body was authenticated first")
	}
	// Undeclared (chunked): refused while reading, after authentication.
	var logs logLines
	req := httptest.NewRequestWithContext(logs.context(t.Context()), http.MethodPost, "/alerts/team-a/crashloop", bytes.NewReader(big))
	req.ContentLength = -1
	req.Header.Set("Authorization", bearer(goodToken))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "512 bytes") {
		t.Fatalf("answer %d %q, want 413 naming the limit", rec.Code, rec.Body.String())
	}
	if len(w.fired) != 0 {
		t.Fatal("an oversize body fired")
	}
}

func TestBadPayload(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want string // in the message
	}{
		{"empty", nil, "not an Alertmanager webhook payload"},
		{"not JSON", []byte("alertname=KubePodCrashLooping"), "not an Alertmanager webhook payload"},
		{"truncated JSON", payload(t, "firing.json")[:300], "not an Alertmanager webhook payload"},
		{"trailing data", append(payload(t, "firing.json"), []byte("{}")...), "not an Alertmanager webhook payload"},
		{"array", []byte("[]"), "not an Alertmanager webhook payload"},
		{"wrong type", edit(t, "firing.json", func(m map[string]any) { m["alerts"] = "many" }), "not an Alertmanager webhook payload"},
		{"negative truncatedAlerts", edit(t, "firing.json", func(m map[string]any) { m["truncatedAlerts"] = -1 }), "not an Alertmanager webhook payload"},
		{"bad time", edit(t, "firing.json", func(m map[string]any) { m["alerts"].([]any)[0].(map[string]any)["startsAt"] = "yesterday" }), "not an Alertmanager webhook payload"},
		{"version 3", edit(t, "firing.json", func(m map[string]any) { m["version"] = "3" }), `unsupported payload version "3"`},
		{"no version", edit(t, "firing.json", func(m map[string]any) { delete(m, "version") }), "unsupported payload version"},
		{"numeric version", edit(t, "firing.json", func(m map[string]any) { m["version"] = 4 }), "not an Alertmanager webhook payload"},
		{"no groupKey", edit(t, "firing.json", func(m map[string]any) { delete(m, "groupKey") }), "groupKey is required"},
		{"bad status", edit(t, "firing.json", func(m map[string]any) { m["status"] = "pending" }), `status is "pending"`},
		{"bad alert status", edit(t, "firing.json", func(m map[string]any) { m["alerts"].([]any)[0].(map[string]any)["status"] = "" }), `alerts[0].status is ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld()
			res := post(t, w.receiver(), "/alerts/team-a/crashloop", bearer(goodToken), tt.body)
			if res.code != http.StatusBadRequest || !strings.Contains(res.resp.Message, tt.want) {
				t.Fatalf("answer %d %q, want 400 saying %q", res.code, res.resp.Message, tt.want)
			}
			if len(w.fired) != 0 {
				t.Fatal("a bad payload fired")
			}
		})
	}
}

// TestMatchers: a group of three alerts of which one passes the trigger's matchers
// fires with that one only.
func TestMatchers(t *testing.T) {
	tests := []struct {
		name       string
		trigger    string
		body       []byte
		wantPods   []string
		wantStatus string
	}{
		{"one of three", "crashloop", payload(t, "firing-group.json"), []string{"checkout-7d9f8b6c5-x2x4q"}, StatusFiring},
		{"no matchers: all", "everything", payload(t, "firing-group.json"),
			[]string{"payments-5c6d7f9b8-q7w2e", "checkout-7d9f8b6c5-x2x4q", "checkout-7d9f8b6c5-k8p3m"}, StatusFiring},
		{"none of three", "team-z", payload(t, "firing-group.json"), nil, ""},
		{"matching alert resolved while the group fires", "crashloop", edit(t, "firing-group.json", func(m map[string]any) {
			m["alerts"].([]any)[1].(map[string]any)["status"] = StatusResolved
		}), []string{"checkout-7d9f8b6c5-x2x4q"}, StatusResolved},
		{"no alerts", "everything", edit(t, "firing-group.json", func(m map[string]any) { m["alerts"] = []any{} }), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld()
			res := post(t, w.receiver(), Path("team-a", tt.trigger), bearer(goodToken), tt.body)
			if res.code != http.StatusOK {
				t.Fatalf("answer %d %q, want 200", res.code, res.body)
			}
			if tt.wantPods == nil {
				if len(w.fired) != 0 || res.resp.Fired {
					t.Fatalf("fired %+v although nothing matched", w.fired)
				}
				if !strings.Contains(res.resp.Message, "no alert matched") {
					t.Fatalf("message %q does not say nothing matched", res.resp.Message)
				}
				return
			}
			if len(w.fired) != 1 {
				t.Fatalf("fired %d notifications, want 1", len(w.fired))
			}
			n := w.fired[0].n
			var pods []string
			for _, a := range n.Alerts {
				pods = append(pods, a.Labels["pod"])
			}
			if !reflect.DeepEqual(pods, tt.wantPods) || n.Status != tt.wantStatus {
				t.Fatalf("fired %s with %v, want %s with %v", n.Status, pods, tt.wantStatus, tt.wantPods)
			}
			if res.resp.Alerts != len(tt.wantPods) || n.GroupKey != `{}:{alertname="KubePodCrashLooping"}` || n.Truncated != 0 {
				t.Fatalf("answer %+v, notification group %q truncated %d", res.resp, n.GroupKey, n.Truncated)
			}
		})
	}
}

func TestMaxAlertsTruncates(t *testing.T) {
	w := newWorld()
	h := w.receiver()
	h.MaxAlerts = 2
	body := edit(t, "firing-group.json", func(m map[string]any) { m["truncatedAlerts"] = 5 })
	res := post(t, h, "/alerts/team-a/everything", bearer(goodToken), body)
	if res.code != http.StatusOK || res.resp.Alerts != 2 || res.resp.Truncated != 6 || !strings.Contains(res.resp.Message, "6 alert(s) left out") {
		t.Fatalf("answer %d %+v, want 200 with 2 alerts and 6 left out", res.code, res.resp)
	}
	n := w.fired[0].n
	if len(n.Alerts) != 2 || n.Truncated != 6 || n.Alerts[0].Labels["pod"] != "payments-5c6d7f9b8-q7w2e" {
		t.Fatalf("notification has %d alerts, %d truncated; want the first 2 and 6", len(n.Alerts), n.Truncated)
	}
	// The caller's count cannot wrap around.
	body = edit(t, "firing-group.json", func(m map[string]any) { m["truncatedAlerts"] = uint64(1<<64 - 1) })
	if res := post(t, h, "/alerts/team-a/everything", bearer(goodToken), body); res.resp.Truncated != 1<<64-1 {
		t.Fatalf("truncated %d, want the maximum", res.resp.Truncated)
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name              string
		fireErr, matchErr error
		want              int
		wantMessage       string
	}{
		{"engine fails", errors.New("creating the AgentQuery: etcdserver: request timed out"), nil, http.StatusServiceUnavailable, "retry later"},
		{"engine refuses for good", fmt.Errorf(`agentqueries is forbidden: User "alice" cannot create resource "agentqueries": %w`, ErrPermanent), nil,
			http.StatusUnprocessableEntity, `User "alice" cannot create`},
		{"matchers cannot be evaluated", nil, errors.New("error parsing regexp: missing closing ]"), http.StatusUnprocessableEntity, "matchers cannot be evaluated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld()
			w.fireErr, w.matchErr = tt.fireErr, tt.matchErr
			res := post(t, w.receiver(), "/alerts/team-a/crashloop", bearer(goodToken), payload(t, "firing.json"))
			if res.code != tt.want || !strings.Contains(res.resp.Message, tt.wantMessage) || res.resp.Fired {
				t.Fatalf("answer %d %+v, want %d saying %q", res.code, res.resp, tt.want, tt.wantMessage)
			}
			// A transient engine error stays in the log, not in the answer.
			if res.code == http.StatusServiceUnavailable && strings.Contains(res.body, "etcdserver") {
				t.Fatalf("the 503 answer leaks the engine's error: %q", res.body)
			}
		})
	}
}

func TestSuspendedAndDeleting(t *testing.T) {
	tests := []struct {
		name, trigger, token string
		want                 int
	}{
		{"suspended", "suspended", goodToken, http.StatusOK},
		{"suspended, wrong token", "suspended", "guess", http.StatusUnauthorized},
		{"being deleted", "deleting", goodToken, http.StatusGone},
		{"being deleted, wrong token", "deleting", "guess", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld()
			res := post(t, w.receiver(), Path("team-a", tt.trigger), bearer(tt.token), payload(t, "firing.json"))
			if res.code != tt.want || res.resp.Fired || len(w.fired) != 0 {
				t.Fatalf("answer %d %+v (fired %d), want %d and nothing fired", res.code, res.resp, len(w.fired), tt.want)
			}
			if tt.want == http.StatusOK && !strings.Contains(res.resp.Message, "suspended") {
				t.Fatalf("message %q does not say the trigger is suspended", res.resp.Message)
			}
		})
	}
}

// TestLog: one info line per accepted notification, naming the trigger and group;
// refusals only at debug verbosity; the token never (checked in serve).
func TestLog(t *testing.T) {
	w := newWorld()
	res := post(t, w.receiver(), "/alerts/team-a/crashloop", bearer(goodToken), payload(t, "firing-group.json"))
	var info []string
	for _, l := range res.logs {
		if strings.Contains(l, `"level"=0`) {
			info = append(info, l)
		}
	}
	if len(info) != 1 {
		t.Fatalf("%d info lines, want 1: %q", len(info), res.logs)
	}
	for _, want := range []string{`"trigger"="crashloop"`, `"namespace"="team-a"`, `"groupKey"=`, `"matched"=1`, `"received"=3`, `"status"="firing"`} {
		if !strings.Contains(info[0], want) {
			t.Errorf("log line %q lacks %s", info[0], want)
		}
	}

	res = post(t, w.receiver(), "/alerts/team-a/crashloop", bearer("guess"), payload(t, "firing.json"))
	if len(res.logs) != 1 || !strings.Contains(res.logs[0], `"level"=1`) || !strings.Contains(res.logs[0], "wrong or empty token") {
		t.Fatalf("a refusal logged %q, want one debug line with the reason", res.logs)
	}
}

func TestValidate(t *testing.T) {
	if err := newWorld().receiver().Validate(); err != nil {
		t.Fatalf("a complete receiver: %v", err)
	}
	h := newWorld().receiver()
	h.Token, h.Fire = nil, nil
	err := h.Validate()
	if err == nil || !strings.Contains(err.Error(), "Token, Fire") {
		t.Fatalf("Validate = %v, want it to name Token and Fire", err)
	}
	res := post(t, h, "/alerts/team-a/crashloop", bearer(goodToken), payload(t, "firing.json"))
	if res.code != http.StatusInternalServerError {
		t.Fatalf("an incomplete receiver answered %d, want 500", res.code)
	}
	h = newWorld().receiver()
	h.MaxAlerts = -1
	if h.Validate() == nil {
		t.Fatal("a negative limit passed Validate")
	}
}

func TestTokensEqual(t *testing.T) {
	tests := []struct {
		presented, secret string
		want              bool
	}{
		{goodToken, goodToken, true},
		{goodToken, goodToken + "\n", true},
		{goodToken, "  " + goodToken + "\r\n", true},
		{"", "", false},
		{"", " ", false},
		{"x", "", false},
		{goodToken, strings.ToUpper(goodToken), false},
		{goodToken + "\n", goodToken, false}, // bearerToken already trimmed the header
	}
	for _, tt := range tests {
		if got := tokensEqual(tt.presented, tt.secret); got != tt.want {
			t.Errorf("tokensEqual(%q, %q) = %v, want %v", tt.presented, tt.secret, got, tt.want)
		}
	}
}
