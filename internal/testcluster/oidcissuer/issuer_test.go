package oidcissuer_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/kubeask/kubeask/internal/testcluster/oidcissuer"
)

const (
	clientID = "kubeask-test"
	redirect = "https://ui.example.com/login/callback"
)

func newIssuer(t *testing.T) *oidcissuer.Issuer {
	t.Helper()
	is, err := oidcissuer.New(oidcissuer.Options{
		Users:   map[string]oidcissuer.User{"alice": {Subject: "alice", Email: "alice@example.com", Groups: []string{"dev"}}},
		Clients: []oidcissuer.Client{{ID: clientID, RedirectURIs: []string{redirect}}, {ID: "confidential", Secret: "s3cret", RedirectURIs: []string{redirect}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(is.Close)
	return is
}

// flow is one relying party's view: go-oidc discovery and golang.org/x/oauth2, as the
// web UI uses them.
type flow struct {
	is       *oidcissuer.Issuer
	ctx      context.Context
	provider *oidc.Provider
	conf     *oauth2.Config
	verifier string
	nonce    string
	state    string
}

func newFlow(t *testing.T, is *oidcissuer.Issuer) *flow {
	t.Helper()
	ctx := oidc.ClientContext(t.Context(), is.HTTPClient())
	p, err := oidc.NewProvider(ctx, is.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &flow{is: is, ctx: ctx, provider: p, verifier: oauth2.GenerateVerifier(), nonce: "n-" + t.Name(), state: "st-" + t.Name(),
		conf: &oauth2.Config{ClientID: clientID, Endpoint: p.Endpoint(), RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, "groups"}}}
}

// authorize requests authURL without following the redirect, and returns where the
// issuer sends the browser (nil when it does not).
func authorize(t *testing.T, is *oidcissuer.Issuer, authURL string) (*url.URL, int, string) {
	t.Helper()
	c := is.HTTPClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusFound {
		return nil, resp.StatusCode, string(body)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u, resp.StatusCode, string(body)
}

// code runs the authorization request for alice and returns the code.
func (f *flow) code(t *testing.T) string {
	t.Helper()
	u, status, body := authorize(t, f.is, f.conf.AuthCodeURL(f.state, oauth2.S256ChallengeOption(f.verifier), oidc.Nonce(f.nonce),
		oauth2.SetAuthURLParam("login_hint", "alice")))
	if u == nil {
		t.Fatalf("authorize: %d %s", status, body)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != redirect || u.Query().Get("state") != f.state || u.Query().Get("code") == "" {
		t.Fatalf("redirect to %s", u)
	}
	return u.Query().Get("code")
}

// oauthError is the RFC 6749 §5.2 error code of a failed exchange.
func oauthError(t *testing.T, err error) string {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("want an OAuth error response, got %v", err)
	}
	return re.ErrorCode
}

func TestCodeFlowWithPKCEGivesAVerifiableIDToken(t *testing.T) {
	is := newIssuer(t)
	f := newFlow(t, is)
	tok, err := f.conf.Exchange(f.ctx, f.code(t), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := f.provider.VerifierContext(f.ctx, &oidc.Config{ClientID: clientID}).Verify(f.ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var claims oidcissuer.Claims
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Issuer != is.URL || claims.Subject != "alice" || claims.Nonce != f.nonce || len(claims.Groups) != 1 || claims.Groups[0] != "dev" ||
		time.Until(idt.Expiry) <= 0 || time.Until(idt.Expiry) > 10*time.Minute+time.Minute {
		t.Errorf("claims %+v, expiry %s", claims, idt.Expiry)
	}
	// Another audience's verifier refuses it.
	if _, err := f.provider.VerifierContext(f.ctx, &oidc.Config{ClientID: "someone-else"}).Verify(f.ctx, raw); err == nil {
		t.Error("an ID token for kubeask-test verified for another client")
	}
}

// RFC 7636 §4.6: a wrong code_verifier is invalid_grant; RFC 6749 §4.1.2: the code is
// spent by the attempt, so the right verifier afterwards fails too.
func TestWrongVerifierIsInvalidGrant(t *testing.T) {
	f := newFlow(t, newIssuer(t))
	code := f.code(t)
	if _, err := f.conf.Exchange(f.ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); oauthError(t, err) != "invalid_grant" {
		t.Errorf("wrong verifier: %v", err)
	}
	if _, err := f.conf.Exchange(f.ctx, code, oauth2.VerifierOption(f.verifier)); oauthError(t, err) != "invalid_grant" {
		t.Errorf("the code after a failed attempt: %v", err)
	}
	// No verifier at all.
	if _, err := f.conf.Exchange(f.ctx, f.code(t)); oauthError(t, err) != "invalid_grant" {
		t.Errorf("no verifier: %v", err)
	}
}

// RFC 6749 §4.1.2: a code works once.
func TestReusedCodeIsInvalidGrant(t *testing.T) {
	f := newFlow(t, newIssuer(t))
	code := f.code(t)
	if _, err := f.conf.Exchange(f.ctx, code, oauth2.VerifierOption(f.verifier)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.conf.Exchange(f.ctx, code, oauth2.VerifierOption(f.verifier)); oauthError(t, err) != "invalid_grant" {
		t.Errorf("reused code: %v", err)
	}
}

// RFC 6749 §4.1.2: codes are short-lived.
func TestExpiredCodeIsInvalidGrant(t *testing.T) {
	is := newIssuer(t)
	f := newFlow(t, is)
	code := f.code(t)
	is.SetClock(func() time.Time { return time.Now().Add(2 * time.Minute) })
	if _, err := f.conf.Exchange(f.ctx, code, oauth2.VerifierOption(f.verifier)); oauthError(t, err) != "invalid_grant" {
		t.Errorf("expired code: %v", err)
	}
}

// RFC 6749 §4.1.2.1 and §3.1.2.3: an unregistered redirect URI or client gets an error
// page, never a redirect; §4.1.3: the token request's redirect_uri must be identical.
func TestRedirectURIAndClientAreChecked(t *testing.T) {
	is := newIssuer(t)
	f := newFlow(t, is)
	for name, conf := range map[string]oauth2.Config{
		"unregistered redirect": {ClientID: clientID, Endpoint: f.conf.Endpoint, RedirectURL: "https://evil.example.com/cb", Scopes: f.conf.Scopes},
		"prefix of a redirect":  {ClientID: clientID, Endpoint: f.conf.Endpoint, RedirectURL: redirect + "/more", Scopes: f.conf.Scopes},
		"unknown client":        {ClientID: "nobody", Endpoint: f.conf.Endpoint, RedirectURL: redirect, Scopes: f.conf.Scopes},
	} {
		u, status, _ := authorize(t, is, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(f.verifier), oauth2.SetAuthURLParam("login_hint", "alice")))
		if u != nil || status != http.StatusBadRequest {
			t.Errorf("%s: status %d, redirect %v", name, status, u)
		}
	}
	code := f.code(t)
	other := *f.conf
	other.RedirectURL = "https://ui.example.com/other"
	if _, err := other.Exchange(f.ctx, code, oauth2.VerifierOption(f.verifier)); oauthError(t, err) != "invalid_grant" {
		t.Errorf("another redirect_uri at the token endpoint: %v", err)
	}
	// A code issued to one client is no good to another (RFC 6749 §4.1.3), and a
	// confidential client must authenticate (§3.2.1).
	code = f.code(t)
	conf := oauth2.Config{ClientID: "confidential", ClientSecret: "s3cret", Endpoint: f.conf.Endpoint, RedirectURL: redirect}
	if _, err := conf.Exchange(f.ctx, code, oauth2.VerifierOption(f.verifier)); oauthError(t, err) != "invalid_grant" {
		t.Errorf("another client's code: %v", err)
	}
	conf.ClientSecret = "wrong"
	if _, err := conf.Exchange(f.ctx, f.code(t), oauth2.VerifierOption(f.verifier)); oauthError(t, err) != "invalid_client" {
		t.Errorf("wrong client secret: %v", err)
	}
}

// RFC 7636 §4.4.1: PKCE is required here, S256 only; OpenID Connect Core §3.1.2.1: the
// openid scope is required. Errors go back to the client's redirect URI with the state.
func TestAuthorizationRequestRules(t *testing.T) {
	is := newIssuer(t)
	f := newFlow(t, is)
	hint := oauth2.SetAuthURLParam("login_hint", "alice")
	noOpenID := *f.conf
	noOpenID.Scopes = []string{"email"}
	for name, tc := range map[string]struct {
		url, want string
	}{
		"no PKCE":       {f.conf.AuthCodeURL("s", hint), "invalid_request"},
		"plain PKCE":    {f.conf.AuthCodeURL("s", hint, oauth2.SetAuthURLParam("code_challenge", f.verifier), oauth2.SetAuthURLParam("code_challenge_method", "plain")), "invalid_request"},
		"no openid":     {noOpenID.AuthCodeURL("s", hint, oauth2.S256ChallengeOption(f.verifier)), "invalid_scope"},
		"implicit flow": {strings.Replace(f.conf.AuthCodeURL("s", hint, oauth2.S256ChallengeOption(f.verifier)), "response_type=code", "response_type=token", 1), "unsupported_response_type"},
	} {
		u, status, body := authorize(t, is, tc.url)
		if u == nil {
			t.Errorf("%s: no redirect: %d %s", name, status, body)
			continue
		}
		if u.Query().Get("error") != tc.want || u.Query().Get("state") != "s" || u.Query().Get("code") != "" {
			t.Errorf("%s: redirected to %s, want error=%s", name, u, tc.want)
		}
	}
}

// Without a login_hint the issuer shows a form with a button per user; posting it logs
// that user in.
func TestLoginForm(t *testing.T) {
	is := newIssuer(t)
	f := newFlow(t, is)
	authURL := f.conf.AuthCodeURL(f.state, oauth2.S256ChallengeOption(f.verifier), oidc.Nonce(f.nonce))
	u, status, body := authorize(t, is, authURL)
	if u != nil || status != http.StatusOK || !strings.Contains(body, `id="login-alice"`) {
		t.Fatalf("the form: %d %v\n%s", status, u, body)
	}
	parsed, _ := url.Parse(authURL)
	form := parsed.Query()
	form.Set("login", "alice")
	c := is.HTTPClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.PostForm(is.URL+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("posting the form: %s -> %v", resp.Status, loc)
	}
	if _, err := f.conf.Exchange(f.ctx, loc.Query().Get("code"), oauth2.VerifierOption(f.verifier)); err != nil {
		t.Fatal(err)
	}
}

func TestDiscoveryAndCAFile(t *testing.T) {
	is := newIssuer(t)
	resp, err := is.HTTPClient().Get(is.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc["issuer"] != is.URL || doc["code_challenge_methods_supported"].([]any)[0] != "S256" {
		t.Errorf("discovery: %v", doc)
	}
	if b, err := os.ReadFile(is.CAFile); err != nil || string(b) != string(is.CAPEM) || !strings.Contains(string(b), "BEGIN CERTIFICATE") {
		t.Errorf("CA file: %v", err)
	}
}
