package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr/funcr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/log"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// goodToken is the value of team-a's Secret am-token, key token.
const goodToken = "amwh-4f9c2d7e1b8a6035"

// world is what the stubbed engine knows: triggers, Secrets (as their requester
// reads them) and the notifications fired. Its functions are the Receiver's.
type world struct {
	mu       sync.Mutex
	triggers map[string]*agentsv1alpha1.AgentTrigger // "namespace/name"
	secrets  map[string]map[string]string            // "namespace/name" -> key -> value

	triggerErr error // returned by Trigger when set
	tokenErr   error // returned by Token when set
	matchErr   error // returned by Match when set
	fireErr    error // returned by Fire when set

	tokenReads []string // triggers whose token was read
	fired      []fired
}

type fired struct {
	trigger string
	n       Notification
}

func alertTrigger(name, secret string, matchers ...agentsv1alpha1.AlertMatcher) *agentsv1alpha1.AgentTrigger {
	return &agentsv1alpha1.AgentTrigger{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name},
		Spec: agentsv1alpha1.AgentTriggerSpec{
			Alerts: &agentsv1alpha1.AlertSource{
				TokenSecretRef: agentsv1alpha1.SecretKeySelector{Name: secret, Key: "token"},
				Matchers:       matchers,
			},
			Query:     agentsv1alpha1.QueryTemplate{Prompt: "Why is {{.Alerts}} firing?"},
			Requester: &agentsv1alpha1.Requester{Username: "alice"},
		},
	}
}

func eq(name, value string) agentsv1alpha1.AlertMatcher {
	return agentsv1alpha1.AlertMatcher{Name: name, Op: agentsv1alpha1.MatchEqual, Value: value}
}

func newWorld() *world {
	w := &world{
		triggers: map[string]*agentsv1alpha1.AgentTrigger{},
		secrets: map[string]map[string]string{
			"team-a/am-token":    {"token": goodToken},
			"team-a/empty-token": {"token": ""},
			"team-a/blank-token": {"token": " \n"},
		},
	}
	for _, t := range []*agentsv1alpha1.AgentTrigger{
		alertTrigger("crashloop", "am-token", eq("namespace", "team-a"), eq("severity", "warning")),
		alertTrigger("everything", "am-token"),
		alertTrigger("team-z", "am-token", eq("namespace", "team-z")),
		alertTrigger("empty", "empty-token"),
		alertTrigger("blank", "blank-token"),
		alertTrigger("no-secret", "missing"),
	} {
		w.triggers[t.Namespace+"/"+t.Name] = t
	}
	suspended := alertTrigger("suspended", "am-token")
	suspended.Spec.Suspend = true
	w.triggers["team-a/suspended"] = suspended
	deleting := alertTrigger("deleting", "am-token")
	deleting.DeletionTimestamp = &metav1.Time{}
	deleting.Finalizers = []string{"example.com/hold"}
	w.triggers["team-a/deleting"] = deleting
	nightly := alertTrigger("nightly", "am-token")
	nightly.Spec.Alerts = nil
	nightly.Spec.Schedule = &agentsv1alpha1.ScheduleSource{Cron: "0 3 * * *"}
	w.triggers["team-a/nightly"] = nightly
	return w
}

func (w *world) receiver() *Receiver {
	return &Receiver{
		Trigger: func(_ context.Context, namespace, name string) (*agentsv1alpha1.AgentTrigger, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			if w.triggerErr != nil {
				return nil, w.triggerErr
			}
			t, ok := w.triggers[namespace+"/"+name]
			if !ok {
				return nil, apierrors.NewNotFound(schema.GroupResource{Group: "agents.kubeask.dev", Resource: "agenttriggers"}, name)
			}
			return t.DeepCopy(), nil
		},
		Token: func(_ context.Context, t *agentsv1alpha1.AgentTrigger) (string, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.tokenReads = append(w.tokenReads, t.Namespace+"/"+t.Name)
			if w.tokenErr != nil {
				return "", w.tokenErr
			}
			ref := t.Spec.Alerts.TokenSecretRef
			data, ok := w.secrets[t.Namespace+"/"+ref.Name]
			if !ok {
				return "", apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, ref.Name)
			}
			v, ok := data[ref.Key]
			if !ok {
				return "", fmt.Errorf("secret %s has no key %q: %w", ref.Name, ref.Key, ErrPermanent)
			}
			return v, nil
		},
		// Match stands in for internal/trigger/filter: every matcher must hold, and
		// only = and != are understood.
		Match: func(t *agentsv1alpha1.AgentTrigger, labels map[string]string) (bool, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			if w.matchErr != nil {
				return false, w.matchErr
			}
			for _, m := range t.Spec.Alerts.Matchers {
				switch m.Op {
				case agentsv1alpha1.MatchEqual:
					if labels[m.Name] != m.Value {
						return false, nil
					}
				case agentsv1alpha1.MatchNotEqual:
					if labels[m.Name] == m.Value {
						return false, nil
					}
				default:
					return false, fmt.Errorf("the stub does not understand %q", m.Op)
				}
			}
			return true, nil
		},
		Fire: func(_ context.Context, t *agentsv1alpha1.AgentTrigger, n Notification) error {
			w.mu.Lock()
			defer w.mu.Unlock()
			if w.fireErr != nil {
				return w.fireErr
			}
			w.fired = append(w.fired, fired{trigger: t.Namespace + "/" + t.Name, n: n})
			return nil
		},
	}
}

// logLines collects what the receiver logs, at every verbosity.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) context(ctx context.Context) context.Context {
	return log.IntoContext(ctx, funcr.New(func(prefix, args string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.lines = append(l.lines, prefix+" "+args)
	}, funcr.Options{Verbosity: 9}))
}

func (l *logLines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// result is one answer of the receiver.
type result struct {
	code   int
	header http.Header
	body   string
	resp   Response
	logs   []string
}

// serve sends one request through h with a recorder.
func serve(t *testing.T, h http.Handler, method, path, authorization string, body []byte) result {
	t.Helper()
	var logs logLines
	req := httptest.NewRequestWithContext(logs.context(t.Context()), method, path, bytes.NewReader(body))
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := result{code: rec.Code, header: rec.Header(), body: rec.Body.String(), logs: logs.all()}
	if err := json.Unmarshal(rec.Body.Bytes(), &res.resp); err != nil {
		t.Fatalf("%s %s answered %d with a body that is not a Response: %q", method, path, rec.Code, res.body)
	}
	for _, s := range append([]string{res.body, fmt.Sprint(res.header)}, res.logs...) {
		if strings.Contains(s, goodToken) {
			t.Fatalf("the token leaked: %q", s)
		}
	}
	return res
}

func post(t *testing.T, h http.Handler, path, authorization string, body []byte) result {
	t.Helper()
	return serve(t, h, http.MethodPost, path, authorization, body)
}

func bearer(token string) string { return "Bearer " + token }

func payload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edit decodes a payload generically, lets fn change it, and encodes it again, so
// tests can vary a real payload without the receiver's own types.
func edit(t testing.TB, name string, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload(t, name), &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
