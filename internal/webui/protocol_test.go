package webui_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// session is a logged-in browserless client of the in-cluster UI.
type session struct {
	c    *http.Client
	csrf string
}

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", body)
	}
	return m[1]
}

// reply is what a test needs of a response, read and closed.
type reply struct {
	StatusCode int
	Status     string
	Header     http.Header
	cookies    []*http.Cookie
}

func (r reply) Cookies() []*http.Cookie { return r.cookies }

func do(t *testing.T, c *http.Client, req *http.Request) (reply, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Status, resp.Header, resp.Cookies()}, string(b)
}

func get(t *testing.T, c *http.Client, path string) (reply, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ui.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, c, req)
}

func post(t *testing.T, c *http.Client, path string, form map[string]string, header ...string) (reply, string) {
	t.Helper()
	v := formValues()
	for k, val := range form {
		v.Set(k, val)
	}
	req, err := http.NewRequest(http.MethodPost, ui.URL+path, strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, c, req)
}

// login logs in with token and returns the session and the cookies the login set.
func login(t *testing.T, token string) (*session, []*http.Cookie) {
	t.Helper()
	c := browserless(t)
	_, page := get(t, c, "/login")
	resp, body := post(t, c, "/login", map[string]string{"csrf": csrfOf(t, page), "token": token, "next": "/ns/team-a/"})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %s\n%s", resp.Status, body)
	}
	_, home := get(t, c, "/ns/team-a/")
	return &session{c: c, csrf: csrfOf(t, home)}, resp.Cookies()
}

func TestTokenLoginCookieIsHttpOnlySecureStrict(t *testing.T) {
	_, cookies := login(t, aliceToken)
	var c *http.Cookie
	for _, k := range cookies {
		if k.Name == "__Host-kubeask-ui" {
			c = k
		}
	}
	if c == nil {
		t.Fatalf("no __Host-kubeask-ui cookie in %v", cookies)
	}
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" {
		t.Errorf("cookie flags: %s", c)
	}
	if strings.Contains(c.Value, aliceToken) {
		t.Error("the cookie carries the token")
	}
}

func TestSessionEndsWithTheToken(t *testing.T) {
	ctx := t.Context()
	cs, err := kubernetes.NewForConfig(cluster.Admin)
	if err != nil {
		t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot", Namespace: "team-a"}}
	if err := admin.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts("team-a").CreateToken(ctx, "robot",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, cookies := login(t, tr.Status.Token)
	for _, k := range cookies {
		if k.Name == "__Host-kubeask-ui" {
			if k.MaxAge <= 0 || k.MaxAge > 600 {
				t.Errorf("cookie Max-Age %d, want at most the token's 600 s", k.MaxAge)
			}
			if k.Expires.After(tr.Status.ExpirationTimestamp.Add(time.Second)) {
				t.Errorf("cookie expires %s, after the token (%s)", k.Expires, tr.Status.ExpirationTimestamp)
			}
			return
		}
	}
	t.Fatal("no session cookie")
}

func TestLoginRefusesAnUnknownToken(t *testing.T) {
	c := browserless(t)
	_, page := get(t, c, "/login")
	resp, body := post(t, c, "/login", map[string]string{"csrf": csrfOf(t, page), "token": "not-a-token"})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "does not accept this token") {
		t.Fatalf("login with a bad token: %s\n%s", resp.Status, body)
	}
	for _, k := range resp.Cookies() {
		if k.Name == "__Host-kubeask-ui" {
			t.Fatal("a session cookie for a bad token")
		}
	}
	// And without the login form's own token (login CSRF), even a good token is refused.
	resp, _ = post(t, browserless(t), "/login", map[string]string{"token": aliceToken})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login without the form's token: %s", resp.Status)
	}
}

func TestStateChangesNeedTheCSRFToken(t *testing.T) {
	s, _ := login(t, aliceToken)
	prompt := "csrf probe " + t.Name()
	for name, tc := range map[string]struct {
		form   map[string]string
		header []string
	}{
		"no token":         {form: map[string]string{"prompt": prompt}},
		"wrong token":      {form: map[string]string{"prompt": prompt, "csrf": "x" + s.csrf}},
		"other origin":     {form: map[string]string{"prompt": prompt, "csrf": s.csrf}, header: []string{"Origin", "https://evil.example"}},
		"cross-site fetch": {form: map[string]string{"prompt": prompt, "csrf": s.csrf}, header: []string{"Sec-Fetch-Site", "cross-site"}},
	} {
		resp, body := post(t, s.c, "/ns/team-a/ask", tc.form, tc.header...)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "security token") {
			t.Errorf("%s: %s\n%s", name, resp.Status, body)
		}
	}
	var list agentsv1alpha1.AgentQueryList
	if err := admin.List(t.Context(), &list, client.InNamespace("team-a")); err != nil {
		t.Fatal(err)
	}
	for _, q := range list.Items {
		if q.Spec.Prompt == prompt {
			t.Fatalf("a refused request created query %s", q.Name)
		}
	}
	// Logging out is a state change too.
	if resp, _ := post(t, s.c, "/logout", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout without the token: %s", resp.Status)
	}
}

func TestPagesCarryAStrictCSPAndNoInlineScript(t *testing.T) {
	s, _ := login(t, aliceToken)
	resp, body := get(t, s.c, "/ns/team-a/")
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1) {
		if !strings.Contains(m, `src="/static/`) {
			t.Errorf("inline script: %s", m)
		}
	}
	if strings.Contains(body, aliceToken) {
		t.Error("the page carries the token")
	}
}

// askAs asks prompt in session as s and returns the query's name.
func askAs(t *testing.T, s *session, session, prompt string, extra ...string) string {
	t.Helper()
	form := map[string]string{"csrf": s.csrf, "prompt": prompt, "session": session}
	for i := 0; i+1 < len(extra); i += 2 {
		form[extra[i]] = extra[i+1]
	}
	resp, body := post(t, s.c, "/ns/team-a/ask", form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("ask: %s\n%s", resp.Status, body)
	}
	loc := resp.Header.Get("Location")
	if i := strings.LastIndex(loc, "#"); i >= 0 {
		return loc[i+1:]
	}
	return loc[strings.LastIndex(loc, "/")+1:]
}

func TestShareLinkIsReadOnlyWhereRBACSaysSo(t *testing.T) {
	prompt := "what runs in team-a? " + t.Name()
	scripts.Set(prompt, func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Text: "checkout runs here."} })
	alice, _ := login(t, aliceToken)
	name := askAs(t, alice, "shared-1", prompt)
	if !strings.HasPrefix(name, "ask-") {
		t.Fatalf("query name %q", name)
	}
	bob, _ := login(t, bobToken)
	resp, body := get(t, bob.c, "/ns/team-a/sessions/shared-1")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "You cannot read this session in team-a") {
		t.Fatalf("bob on alice's session: %s\n%s", resp.Status, body)
	}
	if strings.Contains(body, prompt) {
		t.Fatal("bob's refusal shows alice's question")
	}
	resp, body = get(t, bob.c, "/ns/team-a/queries/"+name)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "You cannot read this query in team-a") {
		t.Fatalf("bob on alice's query: %s\n%s", resp.Status, body)
	}
	carol, _ := login(t, carolToken)
	resp, body = get(t, carol.c, "/ns/team-a/sessions/shared-1")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, prompt) {
		t.Fatalf("carol (a viewer) on alice's session: %s\n%s", resp.Status, body)
	}
	if strings.Contains(body, "/cancel\"") || strings.Contains(body, "Approve") {
		t.Error("carol sees the requester's buttons")
	}
	// The audit log names who did what, as the MCP endpoint's does.
	eventually(t, 5*time.Second, "audit lines", func() bool {
		log := auditLog.String()
		return strings.Contains(log, `"tool":"ui.ask"`) && strings.Contains(log, `"user":"alice"`) &&
			strings.Contains(log, `"name":"`+name+`"`) && strings.Contains(log, `"user":"bob"`) && strings.Contains(log, `"outcome":"forbidden"`)
	})
	for _, line := range strings.Split(auditLog.String(), "\n") {
		if strings.Contains(line, aliceToken) || strings.Contains(line, bobToken) {
			t.Fatalf("a token in the audit log: %s", line)
		}
	}
}

func TestManagerServesTheUIWhenEnabled(t *testing.T) {
	c := &http.Client{Timeout: 5 * time.Second}
	eventually(t, 30*time.Second, "the manager's UI", func() bool {
		resp, err := c.Get("http://" + managerUI + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
		}
		return err == nil
	})
	req, err := http.NewRequest(http.MethodGet, "http://"+managerUI+"/login", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, b := do(t, c, req)
	if resp.StatusCode != http.StatusOK || !strings.Contains(b, "Log in to kubeask") {
		t.Fatalf("GET /login from the manager: %s\n%s", resp.Status, b)
	}
	if resp.Header.Get("Content-Security-Policy") == "" {
		t.Error("no CSP from the manager's UI")
	}
}
