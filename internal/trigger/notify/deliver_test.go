package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/trigger/notify"
)

func TestWebhookGetsTheDocumentWithTheBearerToken(t *testing.T) {
	ns := newNamespace(t)
	rc := newReceiver(t, ok)
	clock := newFakeClock()
	msg := sampleMessage()
	res := clock.notifier().Deliver(t.Context(), admin, ns,
		&agentsv1alpha1.Notify{Webhook: target(t, ns, rc.URL+"/hooks/kubeask", "s3cr3t-token")}, msg)

	if !res.Delivered() || res.Error() != "" {
		t.Fatalf("not delivered: %+v", res)
	}
	if want := []notify.TargetResult{{Target: notify.TargetWebhook, Attempts: 1}}; !slices.Equal(res.Targets, want) {
		t.Errorf("targets %+v, want %+v", res.Targets, want)
	}
	got := rc.got()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	r := got[0]
	for h, want := range map[string]string{
		"Content-Type":  "application/json",
		"Authorization": "Bearer s3cr3t-token",
		"User-Agent":    notify.DefaultUserAgent,
	} {
		if r.Header.Get(h) != want {
			t.Errorf("%s: %q, want %q", h, r.Header.Get(h), want)
		}
	}
	if r.Method != http.MethodPost || r.Path != "/hooks/kubeask" {
		t.Errorf("%s %s", r.Method, r.Path)
	}
	want, err := json.Marshal(notify.NewDocument(msg))
	if err != nil {
		t.Fatal(err)
	}
	assertSameJSON(t, r.Body, want)
	var doc map[string]any
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["version"] != notify.DocumentVersion || doc["kind"] != notify.DocumentKind || doc["answer"] != msg.Answer {
		t.Errorf("document %s", r.Body)
	}
}

func TestSlackGetsEscapedText(t *testing.T) {
	ns := newNamespace(t)
	rc := newReceiver(t, ok)
	msg := sampleMessage()
	msg.Answer = "<!channel> R&D says a > b"
	res := newFakeClock().notifier().Deliver(t.Context(), admin, ns,
		&agentsv1alpha1.Notify{Slack: target(t, ns, rc.URL+"/services/T0/B0/X", "")}, msg)
	if !res.Delivered() {
		t.Fatalf("not delivered: %s", res.Error())
	}
	got := rc.got()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	var body map[string]string
	if err := json.Unmarshal(got[0].Body, &body); err != nil {
		t.Fatalf("%v: %s", err, got[0].Body)
	}
	if len(body) != 1 || body["text"] != notify.NewSlackPayload(msg).Text {
		t.Errorf("body %s", got[0].Body)
	}
	if !strings.HasSuffix(body["text"], "\n\n&lt;!channel&gt; R&amp;D says a &gt; b") {
		t.Errorf("text not escaped: %q", body["text"])
	}
	if a := got[0].Header.Get("Authorization"); a != "" {
		t.Errorf("Authorization %q sent without a tokenSecretRef", a)
	}
	if ct := got[0].Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestServerErrorsAreRetriedWithBackoff(t *testing.T) {
	ns := newNamespace(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		switch n {
		case 1:
			w.WriteHeader(http.StatusInternalServerError)
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		case 3:
			w.WriteHeader(http.StatusRequestTimeout)
		}
	})
	clock := newFakeClock()
	res := clock.notifier().Deliver(t.Context(), admin, ns,
		&agentsv1alpha1.Notify{Webhook: target(t, ns, rc.URL, "tok")}, sampleMessage())
	if !res.Delivered() || res.Targets[0].Attempts != 4 {
		t.Fatalf("result %+v", res)
	}
	if got, want := clock.waits(), []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	for i, r := range rc.got() {
		if r.Header.Get("Authorization") != "Bearer tok" {
			t.Errorf("request %d without the token", i+1)
		}
	}
}

func TestRetriesAreBounded(t *testing.T) {
	unavailable := func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("down for maintenance"))
	}
	t.Run("attempts", func(t *testing.T) {
		ns := newNamespace(t)
		rc := newReceiver(t, unavailable)
		clock := newFakeClock()
		res := clock.notifier().Deliver(t.Context(), admin, ns, &agentsv1alpha1.Notify{Webhook: target(t, ns, rc.URL, "")}, sampleMessage())
		if len(rc.got()) != notify.DefaultAttempts || res.Targets[0].Attempts != notify.DefaultAttempts {
			t.Errorf("%d requests, result %+v", len(rc.got()), res)
		}
		want := "webhook: the receiver answered 503 Service Unavailable: down for maintenance; gave up after 4 attempts"
		if res.Delivered() || res.Error() != want {
			t.Errorf("error %q, want %q", res.Error(), want)
		}
	})
	t.Run("elapsed time", func(t *testing.T) {
		ns := newNamespace(t)
		rc := newReceiver(t, unavailable)
		clock := newFakeClock()
		n := clock.notifier()
		n.Attempts, n.InitialBackoff, n.MaxElapsed = 10, 2*time.Second, 5*time.Second
		res := n.Deliver(t.Context(), admin, ns, &agentsv1alpha1.Notify{Webhook: target(t, ns, rc.URL, "")}, sampleMessage())
		// Waits of 2 s, then 4 s would end at 6 s, past the 5 s budget.
		if len(rc.got()) != 2 || !slices.Equal(clock.waits(), []time.Duration{2 * time.Second}) {
			t.Errorf("%d requests, waits %v", len(rc.got()), clock.waits())
		}
		if !strings.Contains(res.Error(), "gave up after 2 attempts, as the next would start after the 5s budget") {
			t.Errorf("error %q", res.Error())
		}
	})
	t.Run("slow receiver", func(t *testing.T) {
		ns := newNamespace(t)
		rc := newReceiver(t, func(n int, _ http.ResponseWriter, r *http.Request) {
			if n == 1 {
				<-r.Context().Done() // hang until the attempt times out
			}
		})
		clock := newFakeClock()
		n := clock.notifier()
		n.AttemptTimeout = 200 * time.Millisecond
		res := n.Deliver(t.Context(), admin, ns, &agentsv1alpha1.Notify{Webhook: target(t, ns, rc.URL, "")}, sampleMessage())
		if !res.Delivered() || res.Targets[0].Attempts != 2 {
			t.Errorf("result %+v", res)
		}
	})
}

func TestTooManyRequestsHonoursRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		want       time.Duration
	}{
		{"seconds", "7", 7 * time.Second},
		{"zero", "0", 0},
		{"capped", "3600", notify.DefaultMaxBackoff},
		{"http date", time.Date(2030, 1, 2, 3, 4, 17, 0, time.UTC).Format(http.TimeFormat), 12 * time.Second},
		{"unreadable, backoff", "soon", notify.DefaultInitialBackoff},
		{"absent, backoff", "", notify.DefaultInitialBackoff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := newNamespace(t)
			rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					if tt.retryAfter != "" {
						w.Header().Set("Retry-After", tt.retryAfter)
					}
					w.WriteHeader(http.StatusTooManyRequests)
				}
			})
			clock := newFakeClock()
			res := clock.notifier().Deliver(t.Context(), admin, ns, &agentsv1alpha1.Notify{Slack: target(t, ns, rc.URL, "")}, sampleMessage())
			if !res.Delivered() || len(rc.got()) != 2 {
				t.Fatalf("%d requests, result %+v", len(rc.got()), res)
			}
			if got := clock.waits(); !slices.Equal(got, []time.Duration{tt.want}) {
				t.Errorf("waits %v, want [%v]", got, tt.want)
			}
		})
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	for _, code := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusGone} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			ns := newNamespace(t)
			rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(code)
				_, _ = w.Write([]byte("invalid_token\n\tor\x00 so"))
			})
			clock := newFakeClock()
			res := clock.notifier().Deliver(t.Context(), admin, ns, &agentsv1alpha1.Notify{Slack: target(t, ns, rc.URL, "")}, sampleMessage())
			if len(rc.got()) != 1 || len(clock.waits()) != 0 {
				t.Errorf("%d requests, waits %v", len(rc.got()), clock.waits())
			}
			want := "slack: the receiver answered " + http.StatusText(code)
			if !strings.Contains(res.Error(), http.StatusText(code)) || !strings.HasPrefix(res.Error(), "slack: the receiver answered ") ||
				!strings.HasSuffix(res.Error(), ": invalid_token or so") {
				t.Errorf("error %q, want like %q", res.Error(), want)
			}
		})
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	for _, code := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			ns := newNamespace(t)
			elsewhere := newReceiver(t, ok)
			rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, elsewhere.URL+"/collect", code)
			})
			clock := newFakeClock()
			n := clock.notifier()
			// A client that would follow redirects: the Notifier must not let it.
			n.Client = &http.Client{}
			res := n.Deliver(t.Context(), admin, ns, &agentsv1alpha1.Notify{Webhook: target(t, ns, rc.URL, "tok-redirect")}, sampleMessage())
			if len(elsewhere.got()) != 0 {
				t.Errorf("the redirect was followed: %+v", elsewhere.got())
			}
			if len(rc.got()) != 1 || len(clock.waits()) != 0 {
				t.Errorf("%d requests, waits %v", len(rc.got()), clock.waits())
			}
			if res.Delivered() || !strings.Contains(res.Error(), "a redirect, which is not followed") {
				t.Errorf("error %q", res.Error())
			}
			if strings.Contains(res.Error(), elsewhere.URL) || strings.Contains(res.Error(), "collect") {
				t.Errorf("error shows the Location: %q", res.Error())
			}
		})
	}
}

func TestCancellationStopsDelivery(t *testing.T) {
	t.Run("between attempts", func(t *testing.T) {
		ns := newNamespace(t)
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
		ctx, cancel := context.WithCancel(t.Context())
		n := &notify.Notifier{Sleep: func(ctx context.Context, _ time.Duration) error {
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}}
		res := n.Deliver(ctx, admin, ns, &agentsv1alpha1.Notify{Webhook: target(t, ns, rc.URL, "")}, sampleMessage())
		if len(rc.got()) != 1 || res.Targets[0].Attempts != 1 {
			t.Errorf("%d requests, result %+v", len(rc.got()), res)
		}
		if !strings.Contains(res.Error(), "delivery stopped after 1 attempts: context canceled") {
			t.Errorf("error %q", res.Error())
		}
	})
	t.Run("during a request", func(t *testing.T) {
		ns := newNamespace(t)
		arrived := make(chan struct{}, 1)
		rc := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			<-r.Context().Done()
		})
		tg := target(t, ns, rc.URL, "")
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go func() {
			<-arrived
			cancel()
		}()
		start := time.Now()
		// The real clock and sleep, and the default 10 s attempt timeout.
		res := (&notify.Notifier{}).Deliver(ctx, admin, ns, &agentsv1alpha1.Notify{Webhook: tg}, sampleMessage())
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %s", d)
		}
		if len(rc.got()) != 1 || res.Error() != "webhook: delivery stopped: context canceled" {
			t.Errorf("%d requests, error %q", len(rc.got()), res.Error())
		}
	})
}

func TestTargetsAreIndependent(t *testing.T) {
	ns := newNamespace(t)
	failing := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadRequest) })
	slack := newReceiver(t, ok)
	res := newFakeClock().notifier().Deliver(t.Context(), admin, ns, &agentsv1alpha1.Notify{
		Webhook: target(t, ns, failing.URL, ""),
		Slack:   target(t, ns, slack.URL, ""),
	}, sampleMessage())
	want := []notify.TargetResult{
		{Target: notify.TargetWebhook, Attempts: 1, Error: "the receiver answered 400 Bad Request"},
		{Target: notify.TargetSlack, Attempts: 1},
	}
	if !slices.Equal(res.Targets, want) {
		t.Errorf("targets %+v, want %+v", res.Targets, want)
	}
	if res.Delivered() || res.Error() != "webhook: the receiver answered 400 Bad Request" {
		t.Errorf("error %q", res.Error())
	}
	if len(slack.got()) != 1 {
		t.Errorf("slack got %d requests", len(slack.got()))
	}

	// A webhook whose Secret is gone does not keep Slack from getting the answer.
	res = newFakeClock().notifier().Deliver(t.Context(), admin, ns, &agentsv1alpha1.Notify{
		Webhook: &agentsv1alpha1.WebhookTarget{URLSecretRef: agentsv1alpha1.SecretKeySelector{Name: "nope", Key: "url"}},
		Slack:   target(t, ns, slack.URL, ""),
	}, sampleMessage())
	if res.Targets[1].Error != "" || len(slack.got()) != 2 {
		t.Errorf("result %+v, slack got %d requests", res, len(slack.got()))
	}
	if want := "webhook: Secret " + ns + "/nope (the URL) not found"; res.Error() != want {
		t.Errorf("error %q, want %q", res.Error(), want)
	}
}

func TestNoTargets(t *testing.T) {
	for _, targets := range []*agentsv1alpha1.Notify{nil, {}} {
		res := (&notify.Notifier{}).Deliver(t.Context(), admin, "default", targets, sampleMessage())
		if !res.Delivered() || len(res.Targets) != 0 {
			t.Errorf("%+v: %+v", targets, res)
		}
	}
}

// TestErrorsNeverRevealTheURLOrToken plants distinctive values in the URL and token
// and makes every kind of failure happen: none may show them, even when the receiver
// echoes the request back, because the error goes into the trigger's status, which
// more people may read than the Secret.
func TestErrorsNeverRevealTheURLOrToken(t *testing.T) {
	const (
		token = "tok-SUPERSECRET-4711"
		path  = "/services/T0/B0/SECRETPATH-9z"
	)
	echo := func(code int) func(int, http.ResponseWriter, *http.Request) {
		return func(_ int, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
			_, _ = w.Write([]byte("you sent http://" + r.Host + r.URL.RequestURI() + " with " + r.Header.Get("Authorization"))) //nolint:gosec // G705: a test server echoing to the notifier under test, no browser
		}
	}
	refused := httptest.NewServer(http.NotFoundHandler())
	refused.Close()
	untrusted := httptest.NewUnstartedServer(http.NotFoundHandler())
	// The handshake our client rejects is expected; the server need not log it.
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0)
	untrusted.StartTLS()
	t.Cleanup(untrusted.Close)

	tests := []struct {
		name string
		// url returns the URL to store; it may start a receiver.
		url   func(t *testing.T) string
		token string
		want  string
	}{
		{"400 echoing the request", func(t *testing.T) string {
			return newReceiver(t, echo(http.StatusBadRequest)).URL + path + "?key=SECRETQUERY"
		}, token, "400 Bad Request: you sent [redacted]"},
		{"500 echoing the request", func(t *testing.T) string { return newReceiver(t, echo(http.StatusInternalServerError)).URL + path }, token, "500 Internal Server Error: you sent [redacted]"},
		{"redirect to the token", func(t *testing.T) string {
			return newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://collector.example/"+token, http.StatusFound)
			}).URL + path
		}, token, "302 Found"},
		{"connection refused", func(*testing.T) string { return refused.URL + path }, token, "the receiver refused the connection"},
		{"untrusted certificate", func(*testing.T) string { return untrusted.URL + path }, token, "TLS certificate is not trusted"},
		{"unknown host", func(*testing.T) string { return "http://kubeask-SECRETHOST.invalid" + path }, token, "host name"},
		{"password in the URL", func(*testing.T) string { return "http://user:SECRETPASS@" + refused.Listener.Addr().String() + path }, "", "refused"},
		{"not http", func(*testing.T) string { return "ftp://SECRETHOST" + path }, token, "must be an https URL"},
		{"no scheme", func(*testing.T) string { return "hooks.slack.com" + path }, token, "must be an https URL"},
		{"no host", func(*testing.T) string { return "https://" + path }, token, "has no host"},
		{"unparsable", func(*testing.T) string { return "https://SECRETHOST" + path + "%zz" }, token, "is not a valid URL"},
		{"token with a line break", func(t *testing.T) string { return newReceiver(t, ok).URL + path }, token + "\nX-Evil: 1", "characters an HTTP header cannot carry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := newNamespace(t)
			url := tt.url(t)
			res := newFakeClock().notifier().Deliver(t.Context(), admin, ns, &agentsv1alpha1.Notify{
				Webhook: target(t, ns, url, tt.token),
				Slack:   target(t, ns, url, tt.token),
			}, sampleMessage())
			texts := []string{res.Error()}
			for _, tr := range res.Targets {
				texts = append(texts, tr.Error)
			}
			for _, text := range texts {
				if text == "" {
					t.Fatalf("delivered: %+v", res)
				}
				for _, secret := range []string{"SUPERSECRET", "SECRETPATH", "SECRETHOST", "SECRETQUERY", "SECRETPASS", strings.TrimPrefix(refused.URL, "http://"), strings.TrimPrefix(untrusted.URL, "https://")} {
					if strings.Contains(text, secret) {
						t.Errorf("error shows %q: %s", secret, text)
					}
				}
				if strings.Contains(text, "://") {
					t.Errorf("error shows a URL: %s", text)
				}
				if !strings.Contains(text, tt.want) {
					t.Errorf("error %q does not say %q", text, tt.want)
				}
			}
			if len(res.Error()) > notify.MaxErrorLen {
				t.Errorf("error of %d bytes", len(res.Error()))
			}
			t.Log(res.Error())
		})
	}
}
