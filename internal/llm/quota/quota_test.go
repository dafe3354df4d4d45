package quota

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubeask/kubeask/internal/llm/catalog"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var limits = catalog.Limits{
	Default: catalog.Quota{QueriesPerHour: 2, TokensPerDay: 1000},
	Groups:  []catalog.SubjectQuota{{Name: "sre", Quota: catalog.Quota{}}}, // unlimited
}

func newTracker() (*Tracker, *clock) {
	c := &clock{now: time.Date(2026, 3, 4, 22, 0, 0, 0, time.UTC)}
	return New(limits, c.Now), c
}

func TestQueriesPerHour(t *testing.T) {
	tr, c := newTracker()
	for i := range 2 {
		if err := tr.Allow("alice", nil); err != nil {
			t.Fatalf("query %d: %v", i+1, err)
		}
		c.Advance(10 * time.Minute)
	}
	err := tr.Allow("alice", nil)
	var e *ExceededError
	if !errors.As(err, &e) || e.Limit != LimitQueriesPerHour || e.Max != 2 {
		t.Fatalf("third query: got %v, want queriesPerHour exceeded", err)
	}
	// The first query was at 22:00, so the window frees up at 23:00.
	if want := time.Date(2026, 3, 4, 23, 0, 0, 0, time.UTC); !e.RetryAt.Equal(want) {
		t.Errorf("RetryAt %s, want %s", e.RetryAt, want)
	}
	if !strings.Contains(err.Error(), "alice has used the limit of 2 queries per hour") {
		t.Errorf("message %q", err)
	}
	// A refused query is not counted, and other users are not affected.
	if err := tr.Allow("bob", nil); err != nil {
		t.Errorf("bob: %v", err)
	}
	c.Advance(41 * time.Minute) // 23:01
	if err := tr.Allow("alice", nil); err != nil {
		t.Errorf("after the window: %v", err)
	}
}

func TestTokensPerDay(t *testing.T) {
	tr, c := newTracker()
	if err := tr.Allow("alice", nil); err != nil {
		t.Fatal(err)
	}
	if err := tr.RecordTokens("alice", nil, 600); err != nil {
		t.Fatalf("600 of 1000 tokens: %v", err)
	}
	err := tr.RecordTokens("alice", nil, 500)
	var e *ExceededError
	if !errors.As(err, &e) || e.Limit != LimitTokensPerDay {
		t.Fatalf("1100 of 1000 tokens: got %v, want tokensPerDay exceeded", err)
	}
	if err := tr.Allow("alice", nil); !errors.As(err, &e) || e.Limit != LimitTokensPerDay {
		t.Errorf("new query with the budget spent: got %v", err)
	}
	// The budget resets at UTC midnight.
	if want := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC); !e.RetryAt.Equal(want) {
		t.Errorf("RetryAt %s, want %s", e.RetryAt, want)
	}
	c.Advance(2 * time.Hour)
	if err := tr.Allow("alice", nil); err != nil {
		t.Errorf("next day: %v", err)
	}
}

func TestUnlimitedGroup(t *testing.T) {
	tr, _ := newTracker()
	for i := range 10 {
		if err := tr.Allow("carol", []string{"sre"}); err != nil {
			t.Fatalf("query %d: %v", i+1, err)
		}
		if err := tr.RecordTokens("carol", []string{"sre"}, 10_000); err != nil {
			t.Fatalf("tokens %d: %v", i+1, err)
		}
	}
}

func TestPruneForgetsIdleUsers(t *testing.T) {
	tr, c := newTracker()
	if err := tr.Allow("alice", nil); err != nil {
		t.Fatal(err)
	}
	c.Advance(26 * time.Hour)
	if err := tr.Allow("bob", nil); err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if _, ok := tr.users["alice"]; ok || len(tr.users) != 1 {
		t.Errorf("users %v, want only bob", tr.users)
	}
}

func TestConcurrentUse(t *testing.T) {
	tr := New(catalog.Limits{Default: catalog.Quota{QueriesPerHour: 50}}, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 100 {
		wg.Go(func() {
			if tr.Allow("alice", nil) == nil {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
			_ = tr.RecordTokens("alice", nil, 1)
		})
	}
	wg.Wait()
	if allowed != 50 {
		t.Errorf("%d queries allowed, want exactly 50", allowed)
	}
}
