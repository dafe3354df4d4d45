package webui

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kubeask/kubeask/internal/mcp/audit"
	"github.com/kubeask/kubeask/internal/mcp/auth"
	"github.com/kubeask/kubeask/internal/mcp/ratelimit"
)

// loginCookie carries the login form's CSRF token before there is a session: a page on
// another site must not be able to log a browser in as someone else.
const loginCookie = "kubeask-ui-login"

type loginView struct {
	Next, CSRF, Error string
	OIDC              bool
}

func (loginView) title() string { return "Log in" }

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.showLogin(w, r, http.StatusOK, "")
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, problem string) {
	token := randomString()
	// Secure wherever the UI is served over HTTPS (s.secure); the local UI is loopback HTTP.
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: token, Path: "/login", MaxAge: 900, //nolint:gosec // G124: see above
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
	next := r.FormValue("next")
	s.render(w, r, status, "login", nil, loginView{Next: next, CSRF: token, Error: problem, OIDC: s.cfg.Login.OIDC != nil})
}

// loginToken checks a pasted bearer token exactly as the MCP endpoint does, and keeps it
// on the server only: the browser gets a random session id.
func (s *Server) loginToken(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if ok, wait := s.logins.Allow(remoteIP(r)); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetryAfterSeconds(wait)))
		s.showLogin(w, r, http.StatusTooManyRequests, "Too many attempts; wait a moment.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	c, err := r.Cookie(loginCookie)
	if err != nil || !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		s.showLogin(w, r, http.StatusForbidden, "The login form was out of date; try again.")
		return
	}
	token := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(r.PostFormValue("token")), "Bearer "))
	caller, err := s.cfg.Login.Authenticator.Authenticate(r.Context(), token)
	if err != nil {
		s.audit.Log(audit.Record{Time: start.UTC(), User: "", Auth: "token", Client: "kubeask-ui", RemoteAddr: r.RemoteAddr,
			Tool: "ui.login", Outcome: audit.OutcomeRefused, Error: "unauthenticated"})
		msg := "The API server does not accept this token."
		if !errors.Is(err, auth.ErrUnauthenticated) {
			msg = "The token could not be checked right now; try again."
		}
		s.showLogin(w, r, http.StatusUnauthorized, msg)
		return
	}
	s.loggedIn(w, r, caller, token, tokenExpiry(token), "token", r.PostFormValue("next"), start, false)
}

// loggedIn starts the session of caller, expiring no later than the token, and goes on.
// After a cross-site navigation (the issuer's redirect) it goes on with a page rather
// than a redirect: the browser would not send the SameSite=Strict cookie on a redirect.
func (s *Server) loggedIn(w http.ResponseWriter, r *http.Request, caller *auth.Caller, token string, tokenExp time.Time, how, next string, start time.Time, page bool) {
	if _, err := s.cfg.Login.personFor(caller); err != nil {
		s.showLogin(w, r, http.StatusForbidden, err.Error())
		return
	}
	expires := time.Now().Add(s.cfg.SessionTTL)
	if !tokenExp.IsZero() && tokenExp.Before(expires) {
		expires = tokenExp
	}
	s.startSession(w, &uiSession{token: token, expires: expires})
	id := caller.Identity
	s.audit.Log(audit.Record{Time: start.UTC(), User: id.Username, UID: id.UID, Groups: id.Groups, Auth: caller.Mode + "/" + how,
		Client: "kubeask-ui", RemoteAddr: r.RemoteAddr, Tool: "ui.login", Outcome: audit.OutcomeOK,
		LatencyMS: float64(time.Since(start).Microseconds()) / 1000})
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		next = "/"
	}
	if page {
		s.render(w, r, http.StatusOK, "message", nil, message{Title: "Logged in", Text: "Go on.", Back: next, Refresh: true})
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther) //nolint:gosec // G710: next was checked to be a path on this site just above
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, v *visit) {
	s.sessions.drop(v.sess)
	s.clearCookie(w)
	to := "/login"
	if s.cfg.Local != nil {
		to = "/open"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// openLocal turns kubectl ask ui's secret link into a session cookie.
func (s *Server) openLocal(w http.ResponseWriter, r *http.Request) {
	secret := r.URL.Query().Get("secret")
	if subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.Local.Secret)) != 1 {
		s.unauthenticated(w, r)
		return
	}
	s.startSession(w, &uiSession{expires: time.Now().Add(s.cfg.SessionTTL)})
	// A page, not a redirect: the cookie is SameSite=Strict, and a browser does not send
	// it on a redirect that a link from a terminal (a cross-site navigation) started.
	s.render(w, r, http.StatusOK, "message", nil, message{Title: "Opening kubeask…", Text: "Go on to your sessions.", Back: "/", Refresh: true})
}

// tokenExpiry is a JWT's exp claim (zero for other tokens). It only ever shortens a
// session, so reading it without checking the signature gains a forger nothing.
func tokenExpiry(token string) time.Time {
	exp, _ := auth.JWTExpiry(token)
	return exp
}
