package webui

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"sync"
	"time"
)

// uiSession is one logged-in browser. Its cookie holds only a random id; everything
// else, the token above all, stays on the server: nothing a script or an extension
// could read from the browser's storage is worth anything but this one HttpOnly cookie.
type uiSession struct {
	// csrf is the token every form of this session carries back.
	csrf string
	// token is the person's credential, in the cluster only: it is checked again (with
	// the authenticator's cache) on every request, so that a revoked token ends the
	// session within a minute.
	token   string
	expires time.Time
}

// sessionStore keeps sessions in memory, by the SHA-256 of their id, so that even a
// memory dump does not yield a cookie. A restart logs everyone out, which costs a login.
type sessionStore struct {
	mu   sync.Mutex
	byID map[string]*uiSession
}

func newSessionStore() *sessionStore { return &sessionStore{byID: map[string]*uiSession{}} }

// maxSessions bounds the store: logins are rate limited, and expired sessions are
// swept when it is full.
const maxSessions = 10000

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// create stores a session and returns the id for its cookie.
func (st *sessionStore) create(sess *uiSession) string {
	id := randomString()
	sess.csrf = randomString()
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.byID) >= maxSessions {
		now := time.Now()
		for k, s := range st.byID {
			if now.After(s.expires) {
				delete(st.byID, k)
			}
		}
	}
	if len(st.byID) >= maxSessions {
		for k := range st.byID { // still full of live sessions: drop arbitrary ones
			delete(st.byID, k)
			break
		}
	}
	st.byID[hashID(id)] = sess
	return id
}

func (st *sessionStore) get(id string) *uiSession {
	if id == "" {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.byID[hashID(id)]
	if s != nil && time.Now().After(s.expires) {
		delete(st.byID, hashID(id))
		return nil
	}
	return s
}

func (st *sessionStore) drop(sess *uiSession) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for k, s := range st.byID {
		if s == sess {
			delete(st.byID, k)
		}
	}
}

// cookieName is __Host- prefixed where cookies are Secure: the browser then refuses it
// unless it is Secure, host-only and for the whole path, so a sibling subdomain cannot
// plant one.
func (s *Server) cookieName() string {
	if s.secure {
		return "__Host-kubeask-ui"
	}
	return "kubeask-ui"
}

// fromRequest is the request's session, or nil.
func (s *Server) fromRequest(r *http.Request) *uiSession {
	c, err := r.Cookie(s.cookieName())
	if err != nil {
		return nil
	}
	return s.sessions.get(c.Value)
}

// startSession stores sess and sets its cookie: HttpOnly (no script reads it),
// SameSite=Strict (no other site's page sends it), Secure in the cluster, and expiring
// with the session, which never outlives the token.
func (s *Server) startSession(w http.ResponseWriter, sess *uiSession) {
	id := s.sessions.create(sess)
	http.SetCookie(w, &http.Cookie{ //nolint:gosec // G124: Secure in the cluster (s.secure); kubectl ask ui serves loopback HTTP, where a Secure cookie may not be set
		Name: s.cookieName(), Value: id, Path: "/", Expires: sess.expires,
		MaxAge:   int(time.Until(sess.expires).Seconds()),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode,
	})
}

func (s *Server) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: "", Path: "/", MaxAge: -1, //nolint:gosec // G124: as startSession
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
}

// validCSRF checks the form's token against the session's, in constant time.
func validCSRF(r *http.Request, sess *uiSession) bool {
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) == 1
}

// sameOrigin refuses a state change that a browser says comes from another site: the
// CSRF token is the defence, this is a second one that costs nothing.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		scheme := "http"
		if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
			scheme = "https"
		}
		return o == scheme+"://"+r.Host
	}
	return true
}
