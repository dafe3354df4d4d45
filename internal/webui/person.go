package webui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"

	"github.com/kubeask/kubeask/internal/askcli/kube"
	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/mcp/auth"
)

// person is who a request acts as, with a client that acts as them: their kubeconfig
// locally, an impersonating client in the cluster. It is never the manager's client.
type person struct {
	name    string
	uid     string
	groups  []string
	authBy  string // for the audit log: kubeconfig, tokenreview, oidc
	rateKey string
	client  *kube.Client
}

// Local serves the one person of a kubeconfig (kubectl ask ui).
type Local struct {
	// Client acts with the kubeconfig's credentials.
	Client *kube.Client
	// Secret must be presented once, in the link the command opens, before the browser
	// gets its session cookie: other users of the machine can reach a loopback port too.
	Secret string
	// CatalogNamespace is the manager's namespace, where it publishes the public part of
	// its catalog (catalog.PublicConfigMap); empty: model and profile are free text.
	CatalogNamespace string

	who *person
}

// resolve learns who the kubeconfig is, for the header and for showing approve
// buttons to the requester only (the API server decides anyway).
func (l *Local) resolve(ctx context.Context) error {
	if l.Client == nil || l.Secret == "" {
		return errors.New("webui: Local needs a client and a secret")
	}
	review := &authenticationv1.SelfSubjectReview{}
	p := &person{authBy: "kubeconfig", client: l.Client, rateKey: "kubeconfig"}
	if err := l.Client.Create(ctx, review); err != nil {
		return fmt.Errorf("asking the API server who you are (SelfSubjectReview): %w", err)
	}
	u := review.Status.UserInfo
	p.name, p.uid, p.groups = u.Username, u.UID, u.Groups
	l.who = p
	return nil
}

// OpenURL is the link that logs the browser in: base is the server's own URL.
func (l *Local) OpenURL(base string) string { return base + "/open?secret=" + l.Secret }

// Login lets people in with a bearer token or through OIDC (the manager).
type Login struct {
	// Authenticator checks a token: the MCP endpoint's, TokenReview behind a cache.
	Authenticator auth.Authenticator
	// Identities builds clients that impersonate the person the token names.
	Identities *identity.Factory
	// Server is the API server's URL, for messages.
	Server string
	// OIDC, when set, offers a login through the cluster's issuer.
	OIDC *OIDC

	mu     sync.Mutex
	people map[string]cachedPerson
}

type cachedPerson struct {
	p       *person
	expires time.Time
}

// personFor returns the person caller names, with an impersonating client. Clients are
// kept for a while by the caller's full key (username, uid, groups, extra), so that two
// tokens that carry different extras never share one.
func (l *Login) personFor(caller *auth.Caller) (*person, error) {
	key := caller.Key()
	now := time.Now()
	l.mu.Lock()
	if c, ok := l.people[key]; ok && now.Before(c.expires) {
		l.mu.Unlock()
		return c.p, nil
	}
	l.mu.Unlock()
	cfg, err := l.Identities.ConfigFor(caller.Identity)
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "kubeask-ui"
	c, err := kube.FromConfig(cfg, "", l.Server)
	if err != nil {
		return nil, err
	}
	p := &person{name: caller.Identity.Username, uid: caller.Identity.UID, groups: slices.Clone(caller.Identity.Groups),
		authBy: caller.Mode, rateKey: caller.RateKey(), client: c}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.people == nil || len(l.people) > 1000 {
		l.people = map[string]cachedPerson{}
	}
	l.people[key] = cachedPerson{p: p, expires: now.Add(10 * time.Minute)}
	return p, nil
}

// who is the person behind sess.
func (s *Server) who(ctx context.Context, sess *uiSession) (*person, error) {
	if s.cfg.Local != nil {
		return s.cfg.Local.who, nil
	}
	caller, err := s.cfg.Login.Authenticator.Authenticate(ctx, sess.token)
	if err != nil {
		return nil, err
	}
	return s.cfg.Login.personFor(caller)
}

// unauthenticated sends a stranger to the login page, or, locally, says how to get in.
func (s *Server) unauthenticated(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Local != nil {
		s.render(w, r, http.StatusUnauthorized, "message", nil, message{
			Title: "Open the link kubectl ask ui printed",
			Text:  "This page serves the person who started kubectl ask ui, and only the browser that opened its link. Open the link from your terminal (it carries a secret), or start kubectl ask ui again.",
		})
		return
	}
	if r.Method == http.MethodGet && r.Header.Get("Accept") != "text/event-stream" {
		http.Redirect(w, r, "/login?next="+safeNext(r.URL.RequestURI()), http.StatusSeeOther) //nolint:gosec // G710: a path on this site
		return
	}
	s.render(w, r, http.StatusUnauthorized, "message", nil, message{Title: "Your session ended", Text: "Log in again."})
}
