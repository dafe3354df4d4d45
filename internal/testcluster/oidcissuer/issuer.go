// Package oidcissuer is a small OpenID Connect issuer for tests: HTTPS on loopback, a
// discovery document, a JWKS, an authorization endpoint that logs in a test user (from a
// login_hint, or a one-button-per-user form a browser test clicks) and a token endpoint
// for the authorization code grant with PKCE. ID tokens are RS256 JWTs.
//
// It enforces what a real issuer enforces, each rule cited in the code: registered
// client and exact redirect URI, S256 PKCE, single-use and short-lived codes bound to
// their client and redirect URI, the nonce passed through. It is built on the standard
// library and go-jose (github.com/go-jose/go-jose/v4), already a dependency through
// go-oidc.
//
// The API server trusts it through testcluster.Options.OIDC (its --oidc-* flags), with
// APIServerConfig.
package oidcissuer

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
)

// User is someone the issuer can log in.
type User struct {
	// Subject is the sub claim; Email and Groups fill those claims.
	Subject string
	Email   string
	Groups  []string
}

// Client is a registered relying party.
type Client struct {
	ID string
	// Secret is empty for a public client (PKCE alone, RFC 7636 §1).
	Secret string
	// RedirectURIs are the exact redirect URIs registered for it.
	RedirectURIs []string
}

// Options configure New.
type Options struct {
	// Users by login name (what login_hint or the form picks).
	Users map[string]User
	// Clients registered from the start; Register adds more later.
	Clients []Client
	// TokenTTL is the lifetime of ID and access tokens; default 10 minutes.
	TokenTTL time.Duration
}

// Issuer is a running issuer. Close it when done.
type Issuer struct {
	// URL is the issuer identifier (the iss claim), https://127.0.0.1:port.
	URL string
	// CAFile holds the PEM certificate its TLS server presents (for --oidc-ca-file and
	// the like); CAPEM is the same bytes.
	CAFile string
	CAPEM  []byte

	srv    *httptest.Server
	key    *rsa.PrivateKey
	keyID  string
	signer jose.Signer
	ttl    time.Duration
	dir    string

	mu      sync.Mutex
	users   map[string]User
	clients map[string]Client
	codes   map[string]*grant
	// Now is the clock (tests may move it); default time.Now.
	now func() time.Time
}

// grant is an authorization code and what it was issued for.
type grant struct {
	user                     User
	clientID, redirectURI    string
	redirectURIGiven         bool
	challenge, nonce, scopes string
	expires                  time.Time
	used                     bool
}

// codeLifetime: RFC 6749 §4.1.2: "A maximum authorization code lifetime of 10 minutes
// is RECOMMENDED." One minute is plenty for a test.
const codeLifetime = time.Minute

// New starts an issuer on a loopback HTTPS listener.
func New(opts Options) (*Issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	i := &Issuer{key: key, keyID: randomString()[:16], ttl: opts.TokenTTL, users: map[string]User{}, clients: map[string]Client{},
		codes: map[string]*grant{}, now: time.Now}
	if i.ttl <= 0 {
		i.ttl = 10 * time.Minute
	}
	for name, u := range opts.Users {
		i.users[name] = u
	}
	for _, c := range opts.Clients {
		i.Register(c)
	}
	i.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: i.keyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.discovery)
	mux.HandleFunc("GET /keys", i.jwks)
	mux.HandleFunc("GET /authorize", i.authorize)
	mux.HandleFunc("POST /authorize", i.authorize)
	mux.HandleFunc("POST /token", i.token)
	i.srv = httptest.NewTLSServer(mux)
	i.URL = i.srv.URL
	i.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: i.srv.Certificate().Raw})
	if i.dir, err = os.MkdirTemp("", "kubeask-oidc-issuer"); err != nil {
		i.srv.Close()
		return nil, err
	}
	i.CAFile = filepath.Join(i.dir, "ca.crt")
	if err := os.WriteFile(i.CAFile, i.CAPEM, 0o600); err != nil {
		i.Close()
		return nil, err
	}
	return i, nil
}

// Close stops the server and removes the CA file.
func (i *Issuer) Close() {
	i.srv.Close()
	_ = os.RemoveAll(i.dir)
}

// HTTPClient trusts the issuer's certificate.
func (i *Issuer) HTTPClient() *http.Client { return i.srv.Client() }

// Register adds (or replaces) a client.
func (i *Issuer) Register(c Client) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.clients[c.ID] = c
}

// SetClock replaces the issuer's clock (for expiry tests).
func (i *Issuer) SetClock(now func() time.Time) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.now = now
}

func (i *Issuer) clock() time.Time {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.now()
}

// Claims are an ID token's claims (OpenID Connect Core §2 and the standard claims of
// §5.1 the API server may map); Extra adds or overrides any.
type Claims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	AuthTime int64    `json:"auth_time,omitempty"`
	Nonce    string   `json:"nonce,omitempty"`
	AtHash   string   `json:"at_hash,omitempty"`
	// AuthorizedParty (azp): OpenID Connect Core §2, the client the token was issued to.
	AuthorizedParty string   `json:"azp,omitempty"`
	Email           string   `json:"email,omitempty"`
	EmailVerified   bool     `json:"email_verified,omitempty"`
	Groups          []string `json:"groups,omitempty"`
}

// Login runs the authorization code flow with PKCE over HTTP as a relying party would,
// for the user named login (login_hint), and returns the ID token the token endpoint
// issued. clientID and redirectURI must be registered; the redirect is not followed.
func (i *Issuer) Login(ctx context.Context, clientID, redirectURI, login string) (string, error) {
	conf := &oauth2.Config{ClientID: clientID, RedirectURL: redirectURI, Scopes: []string{"openid", "email", "groups"},
		Endpoint: oauth2.Endpoint{AuthURL: i.URL + "/authorize", TokenURL: i.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	verifier, state := oauth2.GenerateVerifier(), randomString()
	c := i.HTTPClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("login_hint", login), oauth2.SetAuthURLParam("nonce", randomString())), nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	_ = resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || back.Query().Get("code") == "" || back.Query().Get("state") != state {
		return "", fmt.Errorf("authorization request: %s, redirect %q", resp.Status, resp.Header.Get("Location"))
	}
	tok, err := conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, i.HTTPClient()), back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return "", err
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", errors.New("no id_token in the token response")
	}
	return raw, nil
}

// IDToken mints an ID token for the user named login, for audience (a client ID), valid
// for the issuer's TokenTTL: what the token endpoint would return, for tests that need a
// token without the browser flow. edit may change the claims (another iss, an expired
// exp) before signing.
func (i *Issuer) IDToken(login, audience string, edit func(*Claims)) (string, error) {
	i.mu.Lock()
	u, ok := i.users[login]
	i.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("no user %q", login)
	}
	now := i.clock()
	c := i.claims(u, audience, now, "", "")
	if edit != nil {
		edit(&c)
	}
	return i.sign(c)
}

func (i *Issuer) claims(u User, audience string, now time.Time, nonce, accessToken string) Claims {
	c := Claims{
		Issuer: i.URL, Subject: u.Subject, Audience: []string{audience}, AuthorizedParty: audience,
		IssuedAt: now.Unix(), AuthTime: now.Unix(), Expiry: now.Add(i.ttl).Unix(), Nonce: nonce,
		Email: u.Email, EmailVerified: u.Email != "", Groups: u.Groups,
	}
	if accessToken != "" {
		// OpenID Connect Core §3.1.3.6: at_hash is the base64url of the left half of
		// the SHA-256 of the access token (for RS256).
		sum := sha256.Sum256([]byte(accessToken))
		c.AtHash = base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
	}
	return c
}

func (i *Issuer) sign(c Claims) (string, error) {
	return jwt.Signed(i.signer).Claims(c).Serialize()
}

// discovery serves OpenID Connect Discovery 1.0 §3 metadata. §4.3: its issuer must be
// identical to the URL it was fetched under, which it is.
func (i *Issuer) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                i.URL,
		"authorization_endpoint":                i.URL + "/authorize",
		"token_endpoint":                        i.URL + "/token",
		"jwks_uri":                              i.URL + "/keys",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "groups"},
		"token_endpoint_auth_methods_supported": []string{"none", "client_secret_basic", "client_secret_post"},
		"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "nonce", "email", "email_verified", "groups"},
		// RFC 8414 §2 (and RFC 7636 §6.2's registry): only S256 is offered.
		"code_challenge_methods_supported": []string{"S256"},
	})
}

func (i *Issuer) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &i.key.PublicKey, KeyID: i.keyID, Algorithm: string(jose.RS256), Use: "sig"}}})
}

var form = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><title>Test issuer: log in</title></head><body>
<h1>Test issuer</h1>
<form method="post" action="/authorize">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}{{range .Users}}<button type="submit" name="login" value="{{.}}" id="login-{{.}}">Log in as {{.}}</button>
{{end}}</form>
</body></html>
`))

// authorize is the authorization endpoint (RFC 6749 §3.1, §4.1.1; OpenID Connect Core
// §3.1.2). A user is picked by login (the form's button) or login_hint (OpenID Connect
// Core §3.1.2.1); without either it shows the form.
func (i *Issuer) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	q := r.Form
	i.mu.Lock()
	client, known := i.clients[q.Get("client_id")]
	i.mu.Unlock()
	redirect := q.Get("redirect_uri")
	// RFC 6749 §4.1.2.1: with a missing or unknown client_id or a redirect URI that does
	// not match, the server MUST NOT redirect the user agent to it; it informs the
	// resource owner instead. §3.1.2.3 / OpenID Connect Core §3.1.2.1: redirect_uri is
	// REQUIRED in OIDC and MUST exactly match a registered one.
	if !known {
		http.Error(w, "invalid_request: unknown client_id", http.StatusBadRequest)
		return
	}
	if !slices.Contains(client.RedirectURIs, redirect) {
		http.Error(w, "invalid_request: redirect_uri is not registered for this client", http.StatusBadRequest)
		return
	}
	back := func(params url.Values) {
		u, _ := url.Parse(redirect)
		v := u.Query()
		for k, vs := range params {
			v[k] = vs
		}
		// RFC 6749 §4.1.2 and §4.1.2.1: state is returned exactly as received.
		if s := q.Get("state"); s != "" {
			v.Set("state", s)
		}
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound) //nolint:gosec // G710: redirect is one of the client's registered redirect URIs, checked above
	}
	fail := func(code, desc string) { back(url.Values{"error": {code}, "error_description": {desc}}) }
	// RFC 6749 §4.1.1: response_type MUST be "code" for this grant.
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "only response_type=code")
		return
	}
	// OpenID Connect Core §3.1.2.1: scope MUST contain openid.
	if !slices.Contains(strings.Fields(q.Get("scope")), "openid") {
		fail("invalid_scope", "the openid scope is required")
		return
	}
	// RFC 7636 §4.4.1: a server that requires PKCE answers a request without a
	// code_challenge with invalid_request. This one requires it, and only S256 (§4.2;
	// "plain" is for clients that cannot do S256, §4.3 would default to it).
	challenge := q.Get("code_challenge")
	if challenge == "" {
		fail("invalid_request", "code_challenge is required (PKCE)")
		return
	}
	if q.Get("code_challenge_method") != "S256" {
		fail("invalid_request", "code_challenge_method must be S256")
		return
	}
	login := q.Get("login")
	if login == "" {
		login = q.Get("login_hint")
	}
	i.mu.Lock()
	u, ok := i.users[login]
	names := make([]string, 0, len(i.users))
	for n := range i.users {
		names = append(names, n)
	}
	i.mu.Unlock()
	if !ok {
		slices.Sort(names)
		params := map[string]string{}
		for k := range q {
			if k != "login" && k != "login_hint" {
				params[k] = q.Get(k)
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = form.Execute(w, map[string]any{"Params": params, "Users": names})
		return
	}
	code := randomString()
	i.mu.Lock()
	i.codes[code] = &grant{user: u, clientID: client.ID, redirectURI: redirect, redirectURIGiven: q.Has("redirect_uri"),
		challenge: challenge, nonce: q.Get("nonce"), scopes: q.Get("scope"), expires: i.now().Add(codeLifetime)}
	i.mu.Unlock()
	back(url.Values{"code": {code}})
}

// unreserved is RFC 7636 §4.1's code_verifier: 43 to 128 characters of
// [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
var unreserved = regexp.MustCompile(`^[A-Za-z0-9\-._~]{43,128}$`)

// token is the token endpoint (RFC 6749 §3.2, §4.1.3; OpenID Connect Core §3.1.3).
func (i *Issuer) token(w http.ResponseWriter, r *http.Request) {
	// RFC 6749 §5.2: errors are JSON with an error code, 400 unless said otherwise.
	fail := func(status int, code, desc string) {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
		}
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	f := r.PostForm
	// RFC 6749 §4.1.3: grant_type MUST be authorization_code.
	if f.Get("grant_type") != "authorization_code" {
		fail(http.StatusBadRequest, "unsupported_grant_type", "only authorization_code")
		return
	}
	// RFC 6749 §2.3.1 / §3.2.1: a confidential client authenticates (HTTP Basic or the
	// body); a public client sends its client_id (§4.1.3). Failure: invalid_client,
	// 401 when Basic was tried (§5.2).
	clientID, secret, basic := r.BasicAuth()
	if basic {
		clientID, _ = url.QueryUnescape(clientID) // §2.3.1: form-encoded before Basic
		secret, _ = url.QueryUnescape(secret)
	} else {
		clientID, secret = f.Get("client_id"), f.Get("client_secret")
	}
	i.mu.Lock()
	client, known := i.clients[clientID]
	i.mu.Unlock()
	if !known || (client.Secret != "" && subtle.ConstantTimeCompare([]byte(client.Secret), []byte(secret)) != 1) {
		fail(http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	code := f.Get("code")
	i.mu.Lock()
	g, found := i.codes[code]
	var reused, expired bool
	if found {
		reused, expired = g.used, i.now().After(g.expires)
		// RFC 6749 §4.1.2: "The client MUST NOT use the authorization code more than
		// once. If an authorization code is used more than once, the authorization
		// server MUST deny the request" — so it is spent now, whatever follows.
		g.used = true
	}
	i.mu.Unlock()
	// RFC 6749 §5.2: invalid_grant when the code is invalid, expired, revoked, does not
	// match the redirect URI used in the authorization request, or was issued to
	// another client.
	switch {
	case !found:
		fail(http.StatusBadRequest, "invalid_grant", "unknown authorization code")
		return
	case reused:
		fail(http.StatusBadRequest, "invalid_grant", "authorization code already used")
		return
	case expired:
		fail(http.StatusBadRequest, "invalid_grant", "authorization code expired")
		return
	case g.clientID != client.ID:
		// RFC 6749 §4.1.3: ensure the code was issued to the authenticated client.
		fail(http.StatusBadRequest, "invalid_grant", "authorization code issued to another client")
		return
	case g.redirectURIGiven && f.Get("redirect_uri") != g.redirectURI:
		// RFC 6749 §4.1.3: redirect_uri is REQUIRED if it was in the authorization
		// request, and the values MUST be identical.
		fail(http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request")
		return
	}
	// RFC 7636 §4.5 / §4.6: the client sends code_verifier; the server computes
	// BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) and compares it with the
	// code_challenge; a mismatch (or no verifier) is invalid_grant.
	verifier := f.Get("code_verifier")
	sum := sha256.Sum256([]byte(verifier))
	if !unreserved.MatchString(verifier) ||
		subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(g.challenge)) != 1 {
		fail(http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
		return
	}
	now := i.clock()
	access := randomString()
	// OpenID Connect Core §3.1.2.1 / §3.1.3.6 / §2: the nonce of the authorization
	// request is passed through unmodified into the ID token; aud contains the client
	// ID; exp and iat are set.
	idt, err := i.sign(i.claims(g.user, client.ID, now, g.nonce, access))
	if err != nil {
		fail(http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	// RFC 6749 §5.1: a successful response, never cached.
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": access, "token_type": "Bearer", "expires_in": int(i.ttl.Seconds()),
		"id_token": idt, "scope": g.scopes,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	// RFC 6749 §5.1: responses with tokens (and, §5.2, errors) are not cached.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) //nolint:errchkjson // maps of strings and a JWKS: nothing that fails to encode; the status is already sent
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
