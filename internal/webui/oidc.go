package webui

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/kubeask/kubeask/internal/mcp/audit"
)

// OIDC logs people in through the cluster's issuer with the authorization code flow
// and PKCE. The ID token it gets is then checked like a pasted token (TokenReview by
// default), so the person is whoever the API server's own --oidc-* settings say: the
// client ID must be one the API server accepts as an audience.
type OIDC struct {
	IssuerURL string
	ClientID  string
	// ClientSecret is empty for a public client (PKCE alone).
	ClientSecret string
	// RedirectURL is <public URL>/login/callback, registered with the issuer.
	RedirectURL string
	// Scopes default to openid, profile, email and groups.
	Scopes []string
	// HTTPClient reaches the issuer (a private CA); nil: the default.
	HTTPClient *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
	pending  map[string]pendingLogin
}

// pendingLogin is a login on its way through the issuer, by its state.
type pendingLogin struct {
	verifier, nonce, next string
	expires               time.Time
}

// oidcCookie binds the callback to the browser that started the login. It is Lax, not
// Strict: the issuer sends the browser back with a cross-site navigation.
const oidcCookie = "kubeask-ui-oidc"

func (o *OIDC) ctx(ctx context.Context) context.Context {
	if o.HTTPClient != nil {
		return oidc.ClientContext(ctx, o.HTTPClient)
	}
	return ctx
}

// discover fetches the issuer's metadata once it is reachable; a failure is retried on
// the next login rather than stopping the manager.
func (o *OIDC) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(o.ctx(ctx), o.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("OIDC discovery of %s: %w", o.IssuerURL, err)
	}
	o.provider = p
	return p, nil
}

func (o *OIDC) oauth(p *oidc.Provider) *oauth2.Config {
	scopes := o.Scopes
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email", "groups"}
	}
	return &oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, Endpoint: p.Endpoint(), RedirectURL: o.RedirectURL, Scopes: scopes}
}

func (o *OIDC) remember(state string, pl pendingLogin) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	if o.pending == nil || len(o.pending) > 10000 {
		o.pending = map[string]pendingLogin{}
	}
	for k, v := range o.pending {
		if now.After(v.expires) {
			delete(o.pending, k)
		}
	}
	o.pending[state] = pl
}

func (o *OIDC) take(state string) (pendingLogin, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	pl, ok := o.pending[state]
	delete(o.pending, state)
	return pl, ok && time.Now().Before(pl.expires)
}

func (s *Server) loginOIDC(w http.ResponseWriter, r *http.Request) {
	o := s.cfg.Login.OIDC
	if ok, _ := s.logins.Allow(remoteIP(r)); !ok {
		s.showLogin(w, r, http.StatusTooManyRequests, "Too many attempts; wait a moment.")
		return
	}
	p, err := o.discover(r.Context())
	if err != nil {
		s.showLogin(w, r, http.StatusBadGateway, "The identity provider cannot be reached: "+err.Error())
		return
	}
	state, nonce, verifier := randomString(), randomString(), oauth2.GenerateVerifier()
	o.remember(state, pendingLogin{verifier: verifier, nonce: nonce, next: r.URL.Query().Get("next"), expires: time.Now().Add(10 * time.Minute)})
	// Lax on purpose: the issuer sends the browser back with a cross-site navigation.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: state, Path: "/login", MaxAge: 600, //nolint:gosec // G124: see above
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, o.oauth(p).AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), http.StatusSeeOther)
}

// oidcCallback exchanges the code (with the PKCE verifier), checks the ID token's
// signature and nonce, and has the API server say who it names.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	o := s.cfg.Login.OIDC
	fail := func(status int, msg string, err error) {
		s.audit.Log(audit.Record{Time: start.UTC(), Auth: "oidc", Client: "kubeask-ui", RemoteAddr: r.RemoteAddr,
			Tool: "ui.login", Outcome: audit.OutcomeRefused, Error: fmt.Sprint(err)})
		s.showLogin(w, r, status, msg)
	}
	state := r.URL.Query().Get("state")
	c, err := r.Cookie(oidcCookie)
	if err != nil || state == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		fail(http.StatusForbidden, "This login was not started in this browser; try again.", errors.New("state mismatch"))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/login", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode}) //nolint:gosec // G124: as above
	pl, ok := o.take(state)
	if !ok {
		fail(http.StatusForbidden, "This login expired; try again.", errors.New("unknown or expired state"))
		return
	}
	if e := r.URL.Query().Get("error"); e != "" {
		fail(http.StatusUnauthorized, "The identity provider refused: "+e+" "+r.URL.Query().Get("error_description"), errors.New(e))
		return
	}
	p, err := o.discover(r.Context())
	if err != nil {
		fail(http.StatusBadGateway, "The identity provider cannot be reached.", err)
		return
	}
	ctx := o.ctx(r.Context())
	tok, err := o.oauth(p).Exchange(ctx, r.URL.Query().Get("code"), oauth2.VerifierOption(pl.verifier))
	if err != nil {
		fail(http.StatusUnauthorized, "The login could not be completed.", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.VerifierContext(ctx, &oidc.Config{ClientID: o.ClientID}).Verify(ctx, raw)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(pl.nonce)) != 1 {
		fail(http.StatusUnauthorized, "The identity provider's answer did not check out.", fmt.Errorf("ID token: %w", err))
		return
	}
	caller, err := s.cfg.Login.Authenticator.Authenticate(r.Context(), raw)
	if err != nil {
		fail(http.StatusUnauthorized, "The API server does not accept this identity provider's tokens: "+strings.TrimSpace(err.Error()), err)
		return
	}
	s.loggedIn(w, r, caller, raw, idt.Expiry, "oidc", pl.next, start, true)
}
