package webui_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/llm/catalog"
	"github.com/kubeask/kubeask/internal/llm/llmtest"
	"github.com/kubeask/kubeask/internal/mcp/auth"
	"github.com/kubeask/kubeask/internal/testcluster"
	"github.com/kubeask/kubeask/internal/testcluster/oidcissuer"
	"github.com/kubeask/kubeask/internal/webui"
)

// OIDC login against the real API server: the fixture's cluster trusts issuer (a local
// HTTPS issuer, package oidcissuer) through kube-apiserver's --oidc-* flags, with
// username and groups prefixed oidc:. Each test serves a UI with OIDC login the way the
// manager builds it (TokenReview behind the cache, impersonation), registered with the
// issuer as a public client (PKCE alone).

// oidcClientID is the UI's client at the issuer, and the audience the API server accepts.
const oidcClientID = "kubeask-ui"

// oidcTokenTTL is the issuer's token lifetime, well under the UI's session TTL (8 h), so
// the session must end with the token.
const oidcTokenTTL = 5 * time.Minute

var issuer *oidcissuer.Issuer

func startIssuer() (*oidcissuer.Issuer, error) {
	return oidcissuer.New(oidcissuer.Options{TokenTTL: oidcTokenTTL, Users: map[string]oidcissuer.User{
		"alice": {Subject: "alice", Email: "alice@example.com", Groups: []string{"dev"}},
		"bob":   {Subject: "bob", Email: "bob@example.com", Groups: []string{"ops"}},
	}})
}

func issuerTrust() *testcluster.OIDC {
	return &testcluster.OIDC{IssuerURL: issuer.URL, ClientID: oidcClientID, CAFile: issuer.CAFile,
		UsernameClaim: "sub", UsernamePrefix: "oidc:", GroupsClaim: "groups", GroupsPrefix: "oidc:"}
}

// oidcUI serves a UI with OIDC login on its own loopback TLS server and returns its URL.
func oidcUI(t *testing.T) string {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	base := "https://" + hs.Listener.Addr().String()
	issuer.Register(oidcissuer.Client{ID: oidcClientID, RedirectURIs: []string{base + "/login/callback"}})
	cs, err := kubernetes.NewForConfig(operatorCfg)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := identity.NewFactory(operatorCfg, identity.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load(catalogFile)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := webui.New(t.Context(), webui.Config{
		Login: &webui.Login{
			Authenticator: &auth.Cached{Inner: &auth.TokenReview{Reviews: cs.AuthenticationV1().TokenReviews()}},
			Identities:    ids, Server: operatorCfg.Host,
			OIDC: &webui.OIDC{IssuerURL: issuer.URL, ClientID: oidcClientID, RedirectURL: base + "/login/callback", HTTPClient: issuer.HTTPClient()},
		},
		DefaultNamespace: "team-a", Catalog: cat,
		AllowedModes: []agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly, agentsv1alpha1.ModePropose},
		RateLimit:    1000, RateBurst: 1000, Audit: auditLog, Log: logr.Discard(),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	hs.StartTLS()
	t.Cleanup(hs.Close)
	// oidc:dev works in team-a as dev does; nothing in team-b.
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "team-member-oidc-dev", Namespace: "team-a"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "team-member"},
		Subjects:   []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "oidc:dev"}},
	}
	if err := admin.Create(t.Context(), rb); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	// The API server fetches the issuer's keys in the background after it starts.
	token, err := issuer.IDToken("alice", oidcClientID, nil)
	if err != nil {
		t.Fatal(err)
	}
	asAlice, err := kubernetes.NewForConfig(tokenConfig(token))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the API server to accept the issuer's tokens", func() bool {
		_, err := asAlice.AuthenticationV1().SelfSubjectReviews().Create(t.Context(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		return err == nil
	})
	return base
}

// oidcBrowser is a browserless client (a cookie jar, no redirects followed) that trusts
// the UI's and the issuer's certificates.
func oidcBrowser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(issuer.CAPEM)
	pool.AddCert(ui.Certificate()) // every httptest TLS server presents this one
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func getURL(t *testing.T, c *http.Client, u string) (reply, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, c, req)
}

// startOIDCLogin clicks "Log in with your identity provider" and returns where the UI
// sends the browser: the issuer's authorization endpoint.
func startOIDCLogin(t *testing.T, c *http.Client, base, next string) *url.URL {
	t.Helper()
	resp, body := getURL(t, c, base+"/login/oidc?next="+url.QueryEscape(next))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("GET /login/oidc: %s\n%s", resp.Status, body)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(u.String(), issuer.URL+"/authorize?") {
		t.Fatalf("GET /login/oidc redirects to %s", resp.Header.Get("Location"))
	}
	return u
}

// pickUser logs user in at the issuer (login_hint) and returns the callback URL the
// issuer sends the browser to.
func pickUser(t *testing.T, c *http.Client, authURL *url.URL, user string) *url.URL {
	t.Helper()
	u := *authURL
	q := u.Query()
	q.Set("login_hint", user)
	u.RawQuery = q.Encode()
	resp, body := getURL(t, c, u.String())
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("the issuer: %s\n%s", resp.Status, body)
	}
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || cb.Query().Get("code") == "" {
		t.Fatalf("the issuer redirects to %s", resp.Header.Get("Location"))
	}
	return cb
}

func sessionCookie(cookies []*http.Cookie) *http.Cookie {
	for _, k := range cookies {
		if k.Name == "__Host-kubeask-ui" && k.MaxAge >= 0 {
			return k
		}
	}
	return nil
}

// alice logs in through the issuer; the API server authenticates her ID token (as
// oidc:alice in oidc:dev), her session acts as her under RBAC, and it ends with the token.
func TestOIDCLoginActsAsAlice(t *testing.T) {
	base := oidcUI(t)
	c := oidcBrowser(t)
	authURL := startOIDCLogin(t, c, base, "/ns/team-a/")
	q := authURL.Query()
	if q.Get("client_id") != oidcClientID || q.Get("redirect_uri") != base+"/login/callback" || q.Get("response_type") != "code" ||
		q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("nonce") == "" || q.Get("state") == "" ||
		!slices.Contains(strings.Fields(q.Get("scope")), "openid") {
		t.Errorf("authorization request: %s", authURL)
	}
	before := time.Now()
	resp, body := getURL(t, c, pickUser(t, c, authURL, "alice").String())
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Logged in") {
		t.Fatalf("callback: %s\n%s", resp.Status, body)
	}
	k := sessionCookie(resp.Cookies())
	if k == nil {
		t.Fatalf("no session cookie in %v", resp.Cookies())
	}
	if !k.HttpOnly || !k.Secure || k.SameSite != http.SameSiteStrictMode || k.Path != "/" {
		t.Errorf("cookie flags: %s", k)
	}
	// The ID token lives oidcTokenTTL from its iat (a whole second, at most before now).
	if k.MaxAge <= 0 || k.MaxAge > int(oidcTokenTTL.Seconds()) || k.Expires.After(before.Add(oidcTokenTTL).Add(time.Second)) {
		t.Errorf("cookie Max-Age %d, Expires %s: want no later than the ID token (%s from now)", k.MaxAge, k.Expires, oidcTokenTTL)
	}
	resp, home := getURL(t, c, base+"/ns/team-a/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(home, `id="who">oidc:alice<`) {
		t.Fatalf("home as alice: %s\n%s", resp.Status, home)
	}
	// What she does, the API server sees her do: admission records oidc:alice, oidc:dev.
	prompt := "oidc login asks " + t.Name()
	scripts.Set(prompt, func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Text: "asked via OIDC."} })
	form := formValues("csrf", csrfOf(t, home), "prompt", prompt)
	req, err := http.NewRequest(http.MethodPost, base+"/ns/team-a/ask", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	if resp, body := do(t, c, req); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("ask: %s\n%s", resp.Status, body)
	}
	var list agentsv1alpha1.AgentQueryList
	if err := admin.List(t.Context(), &list, client.InNamespace("team-a")); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, q := range list.Items {
		if q.Spec.Prompt == prompt {
			found = true
			if r := q.Spec.Requester; r == nil || r.Username != "oidc:alice" || !slices.Contains(r.Groups, "oidc:dev") {
				t.Errorf("requester %+v, want oidc:alice in oidc:dev", r)
			}
		}
	}
	if !found {
		t.Fatal("the query was not created")
	}
	// RBAC applies: oidc:alice has nothing in team-b.
	resp, body = getURL(t, c, base+"/ns/team-b/sessions/anything")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "You cannot read this session in team-b") {
		t.Errorf("alice in team-b: %s\n%s", resp.Status, body)
	}
	eventually(t, 5*time.Second, "the login's audit line", func() bool {
		return strings.Contains(auditLog.String(), `"user":"oidc:alice"`) && strings.Contains(auditLog.String(), `"auth":"tokenreview/oidc"`)
	})
}

// The callback only completes the login this browser started: a tampered state, or the
// right callback in another browser, is refused; the callback works once.
func TestOIDCCallbackRefusesATamperedState(t *testing.T) {
	base := oidcUI(t)
	c := oidcBrowser(t)
	cb := pickUser(t, c, startOIDCLogin(t, c, base, "/"), "alice")
	tampered := *cb
	q := tampered.Query()
	q.Set("state", q.Get("state")+"x")
	tampered.RawQuery = q.Encode()
	resp, body := getURL(t, c, tampered.String())
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "not started in this browser") || sessionCookie(resp.Cookies()) != nil {
		t.Fatalf("tampered state: %s\n%s", resp.Status, body)
	}
	resp, body = getURL(t, oidcBrowser(t), cb.String())
	if resp.StatusCode != http.StatusForbidden || sessionCookie(resp.Cookies()) != nil {
		t.Fatalf("the callback in another browser: %s\n%s", resp.Status, body)
	}
	resp, body = getURL(t, c, cb.String())
	if resp.StatusCode != http.StatusOK || sessionCookie(resp.Cookies()) == nil {
		t.Fatalf("the genuine callback: %s\n%s", resp.Status, body)
	}
	resp, body = getURL(t, c, cb.String())
	if resp.StatusCode != http.StatusForbidden || sessionCookie(resp.Cookies()) != nil {
		t.Fatalf("the callback replayed: %s\n%s", resp.Status, body)
	}
}

// A code from another login (here bob's, injected into alice's browser's callback with
// alice's own state) is exchanged with this login's PKCE verifier, which does not match
// the code's challenge: the issuer answers invalid_grant (RFC 7636 §4.6) and nobody is
// logged in.
func TestOIDCCallbackRefusesACodeForAnotherVerifier(t *testing.T) {
	base := oidcUI(t)
	victim, attacker := oidcBrowser(t), oidcBrowser(t)
	state := startOIDCLogin(t, victim, base, "/").Query().Get("state")
	code := pickUser(t, attacker, startOIDCLogin(t, attacker, base, "/"), "bob").Query().Get("code")
	resp, body := getURL(t, victim, base+"/login/callback?"+url.Values{"code": {code}, "state": {state}}.Encode())
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "could not be completed") || sessionCookie(resp.Cookies()) != nil {
		t.Fatalf("a code for another verifier: %s\n%s", resp.Status, body)
	}
	eventually(t, 5*time.Second, "the refusal's audit line", func() bool {
		return strings.Contains(auditLog.String(), `"tool":"ui.login"`) && strings.Contains(auditLog.String(), "invalid_grant")
	})
	if resp, _ := getURL(t, victim, base+"/ns/team-a/"); resp.StatusCode == http.StatusOK {
		t.Error("the victim's browser has a session")
	}
}

// In Chromium: alice clicks "Log in with your identity provider", then her button on the
// issuer's page, and lands on her sessions as oidc:alice.
func TestBrowserOIDCLogin(t *testing.T) {
	ctx := browser(t)
	base := oidcUI(t)
	act(t, ctx, "OIDC login",
		chromedp.Navigate(base+"/login"),
		chromedp.Click(chromedp.CSS(`a[href^="/login/oidc"]`)),
		chromedp.WaitVisible(chromedp.CSS("#login-alice")),
		chromedp.Click(chromedp.CSS("#login-alice")),
		chromedp.WaitVisible(chromedp.CSS("#who")),
	)
	if who := value(t, ctx, "who", chromedp.Text(chromedp.CSS("#who"))); who != "oidc:alice" {
		t.Errorf("logged in as %q, want oidc:alice", who)
	}
	if loc := value(t, ctx, "location", chromedp.Evaluate[string](`location.href`)); !strings.HasPrefix(loc, base+"/ns/team-a/") {
		t.Errorf("landed on %s", loc)
	}
}
