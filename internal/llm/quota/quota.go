// Package quota enforces the model catalog's per-requester limits: queries per hour and
// tokens per day.
//
// Accounting is in memory, per manager replica, and starts from zero when the manager
// restarts. That is acceptable because only the leader replica runs the agent and the
// limits exist to stop runaway use and spread a shared budget, not to bill; a restart
// at worst grants one extra window. Durable accounting would need a store the operator
// does not have.
package quota

import (
	"fmt"
	"sync"
	"time"

	"github.com/kubeask/kubeask/internal/llm/catalog"
)

// Checker is what the agent needs: ask before a query, report tokens after each model
// call.
type Checker interface {
	// Allow counts a new query of the requester, or returns an *ExceededError without
	// counting it.
	Allow(user string, groups []string) error
	// RecordTokens adds the tokens of one model call. It returns an *ExceededError when
	// the day's budget is now used up, so the agent can stop the query.
	RecordTokens(user string, groups []string, tokens int64) error
}

// Limit names the limit that was hit, as it is spelled in the catalog.
type Limit string

const (
	LimitQueriesPerHour Limit = "queriesPerHour"
	LimitTokensPerDay   Limit = "tokensPerDay"
)

// Reason is the condition reason for an ExceededError.
const Reason = "QuotaExceeded"

// ExceededError says which limit a requester hit and when it frees up.
type ExceededError struct {
	User    string
	Limit   Limit
	Max     int64
	RetryAt time.Time
}

func (e *ExceededError) Error() string {
	at := e.RetryAt.UTC().Format(time.RFC3339)
	if e.Limit == LimitTokensPerDay {
		return fmt.Sprintf("%s has used the limit of %d model tokens per day; it resets at %s", e.User, e.Max, at)
	}
	return fmt.Sprintf("%s has used the limit of %d queries per hour; the next query is allowed at %s", e.User, e.Max, at)
}

var _ Checker = (*Tracker)(nil)

// Tracker is the in-memory Checker. It is safe for concurrent use.
type Tracker struct {
	limits catalog.Limits
	now    func() time.Time

	mu        sync.Mutex
	users     map[string]*usage
	lastPrune time.Time
}

type usage struct {
	// queries are the start times of the user's queries in the last hour, oldest
	// first; kept only while the user has an hourly limit.
	queries []time.Time
	// day is the UTC midnight that tokens count from.
	day      time.Time
	tokens   int64
	lastSeen time.Time
}

// New returns a Tracker for limits. now is the clock; nil means time.Now.
func New(limits catalog.Limits, now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	return &Tracker{limits: limits, now: now, users: map[string]*usage{}}
}

// Allow implements Checker.
func (t *Tracker) Allow(user string, groups []string) error {
	q := t.limits.For(user, groups)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prune(now)
	u := t.usage(user, now)
	if q.TokensPerDay > 0 && u.tokens >= q.TokensPerDay {
		return &ExceededError{User: user, Limit: LimitTokensPerDay, Max: q.TokensPerDay, RetryAt: u.day.Add(24 * time.Hour)}
	}
	if q.QueriesPerHour <= 0 {
		u.queries = nil
		return nil
	}
	if int64(len(u.queries)) >= q.QueriesPerHour {
		return &ExceededError{User: user, Limit: LimitQueriesPerHour, Max: q.QueriesPerHour, RetryAt: u.queries[0].Add(time.Hour)}
	}
	u.queries = append(u.queries, now)
	return nil
}

// RecordTokens implements Checker.
func (t *Tracker) RecordTokens(user string, groups []string, tokens int64) error {
	if tokens < 0 {
		tokens = 0
	}
	q := t.limits.For(user, groups)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.usage(user, now)
	u.tokens += tokens
	if q.TokensPerDay > 0 && u.tokens >= q.TokensPerDay {
		return &ExceededError{User: user, Limit: LimitTokensPerDay, Max: q.TokensPerDay, RetryAt: u.day.Add(24 * time.Hour)}
	}
	return nil
}

// usage returns the user's record with expired windows dropped. Callers hold t.mu.
func (t *Tracker) usage(user string, now time.Time) *usage {
	u, ok := t.users[user]
	if !ok {
		u = &usage{}
		t.users[user] = u
	}
	u.lastSeen = now
	if day := now.UTC().Truncate(24 * time.Hour); !day.Equal(u.day) {
		u.day, u.tokens = day, 0
	}
	hourAgo := now.Add(-time.Hour)
	drop := 0
	for drop < len(u.queries) && !u.queries[drop].After(hourAgo) {
		drop++
	}
	u.queries = u.queries[drop:]
	return u
}

// prune forgets users idle for longer than both windows, so memory follows the number
// of active requesters rather than every requester ever seen. Callers hold t.mu.
func (t *Tracker) prune(now time.Time) {
	if now.Sub(t.lastPrune) < time.Hour {
		return
	}
	t.lastPrune = now
	for name, u := range t.users {
		if now.Sub(u.lastSeen) > 25*time.Hour {
			delete(t.users, name)
		}
	}
}
