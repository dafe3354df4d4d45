package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// recordingRunner counts runs per key and the most that ran at once; block, if set,
// holds every run until it is closed or the run is cancelled.
type recordingRunner struct {
	mu      sync.Mutex
	runs    map[types.NamespacedName]int
	running atomic.Int32
	peak    atomic.Int32
	block   chan struct{}
	started chan types.NamespacedName
}

func (r *recordingRunner) Run(ctx context.Context, key types.NamespacedName) error {
	n := r.running.Add(1)
	defer r.running.Add(-1)
	for {
		p := r.peak.Load()
		if n <= p || r.peak.CompareAndSwap(p, n) {
			break
		}
	}
	r.mu.Lock()
	r.runs[key]++
	r.mu.Unlock()
	if r.started != nil {
		r.started <- key
	}
	if r.block != nil {
		select {
		case <-r.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (r *recordingRunner) count(key types.NamespacedName) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs[key]
}

func startPool(t *testing.T, r Runner, workers int) *Pool {
	t.Helper()
	p := NewPool(r, workers)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _ = p.Start(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the pool did not stop")
		}
	})
	return p
}

// active reports whether key is queued or running.
func active(p *Pool, key types.NamespacedName) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.active[key]
	return ok
}

func waitIdle(t *testing.T, p *Pool, keys []types.NamespacedName) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, k := range keys {
		for active(p, k) {
			if time.Now().After(deadline) {
				t.Fatalf("%s still active", k)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

func TestPoolRunsABurstOnceEachWithinItsWorkers(t *testing.T) {
	r := &recordingRunner{runs: map[types.NamespacedName]int{}}
	p := startPool(t, r, 3)
	var keys []types.NamespacedName
	for i := range 5000 { // far more than any fixed queue would hold at once
		k := types.NamespacedName{Namespace: "ns", Name: fmt.Sprintf("q%d", i)}
		keys = append(keys, k)
		p.Submit(Query{Key: k, Generation: 1})
	}
	waitIdle(t, p, keys)
	for _, k := range keys {
		if n := r.count(k); n != 1 {
			t.Fatalf("%s ran %d times, want 1", k, n)
		}
	}
	if peak := r.peak.Load(); peak > 3 {
		t.Errorf("%d runs at once with 3 workers", peak)
	}
}

func TestPoolRunsAgainWhenSubmittedWhileRunning(t *testing.T) {
	r := &recordingRunner{runs: map[types.NamespacedName]int{}, block: make(chan struct{}), started: make(chan types.NamespacedName, 10)}
	p := startPool(t, r, 1)
	k := types.NamespacedName{Namespace: "ns", Name: "approved"}
	p.Submit(Query{Key: k, Generation: 1})
	<-r.started
	p.Submit(Query{Key: k, Generation: 1}) // its own status writes, seen while it runs: no news
	p.Submit(Query{Key: k, Generation: 2}) // an approval (a spec change) seen while it runs
	p.Submit(Query{Key: k, Generation: 2})
	other := types.NamespacedName{Namespace: "ns", Name: "queued-twice"}
	p.Submit(Query{Key: other, Generation: 1})
	p.Submit(Query{Key: other, Generation: 2}) // already queued: a no-op; the queued run reads the newest spec
	close(r.block)
	waitIdle(t, p, []types.NamespacedName{k, other})
	if n := r.count(k); n != 2 {
		t.Errorf("ran %d times, want 2: once, then once more for the newer generation seen meanwhile", n)
	}
	if n := r.count(other); n != 1 {
		t.Errorf("a key submitted twice while queued ran %d times, want 1", n)
	}
}

func TestPoolDoesNotRunAgainForTheSameGeneration(t *testing.T) {
	r := &recordingRunner{runs: map[types.NamespacedName]int{}, block: make(chan struct{}), started: make(chan types.NamespacedName, 10)}
	p := startPool(t, r, 1)
	k := types.NamespacedName{Namespace: "ns", Name: "busy"}
	p.Submit(Query{Key: k, Generation: 3})
	<-r.started
	for range 10 { // the run's own status writes, each reconciled
		p.Submit(Query{Key: k, Generation: 3})
	}
	close(r.block)
	waitIdle(t, p, []types.NamespacedName{k})
	if n := r.count(k); n != 1 {
		t.Errorf("ran %d times, want 1: nothing newer was submitted while it ran", n)
	}
}

func TestPoolRemembersASettledRunUntilANewerGeneration(t *testing.T) {
	r := &recordingRunner{runs: map[types.NamespacedName]int{}}
	p := startPool(t, r, 1)
	k := types.NamespacedName{Namespace: "ns", Name: "answered"}
	q := Query{Key: k, UID: "uid-1", Generation: 1}
	p.Submit(q)
	waitIdle(t, p, []types.NamespacedName{k})
	for range 5 { // late events of its own status writes, through a lagging cache
		p.Submit(q)
	}
	waitIdle(t, p, []types.NamespacedName{k})
	if n := r.count(k); n != 1 {
		t.Fatalf("ran %d times; a settled run must not run again for the same generation", n)
	}
	p.Submit(Query{Key: k, UID: "uid-1", Generation: 2}) // an approval
	waitIdle(t, p, []types.NamespacedName{k})
	p.Submit(Query{Key: k, UID: "uid-2", Generation: 1}) // deleted and created again
	waitIdle(t, p, []types.NamespacedName{k})
	if n := r.count(k); n != 3 {
		t.Fatalf("ran %d times, want 3: a newer generation and a new query of the same name run", n)
	}
	p.Cancel(k) // deleted: forgotten
	p.Submit(Query{Key: k, UID: "uid-2", Generation: 1})
	waitIdle(t, p, []types.NamespacedName{k})
	if n := r.count(k); n != 4 {
		t.Errorf("ran %d times, want 4: a cancelled query is forgotten", n)
	}
}

func TestPoolCancelStopsARunAndSkipsAQueuedKey(t *testing.T) {
	r := &recordingRunner{runs: map[types.NamespacedName]int{}, block: make(chan struct{}), started: make(chan types.NamespacedName, 10)}
	p := startPool(t, r, 1)
	running := types.NamespacedName{Namespace: "ns", Name: "running"}
	queued := types.NamespacedName{Namespace: "ns", Name: "queued"}
	p.Submit(Query{Key: running, Generation: 1})
	<-r.started
	p.Submit(Query{Key: queued, Generation: 1}) // waits: the only worker is busy
	p.Cancel(queued)
	p.Cancel(running) // its run sees its context cancelled
	waitIdle(t, p, []types.NamespacedName{running, queued})
	if r.count(queued) != 0 {
		t.Errorf("a key cancelled while queued ran")
	}
	if r.count(running) != 1 {
		t.Errorf("the cancelled run ran %d times, want 1 and no retry", r.count(running))
	}
}

// failingRunner fails every run; GiveUp records what it was told.
type failingRunner struct {
	runs   atomic.Int32
	gaveUp chan string
}

func (r *failingRunner) Run(context.Context, types.NamespacedName) error {
	return fmt.Errorf("run %d failed", r.runs.Add(1))
}

func (r *failingRunner) GiveUp(_ context.Context, _ types.NamespacedName, runs int, last error) error {
	r.gaveUp <- fmt.Sprintf("%d: %v", runs, last)
	return nil
}

func TestPoolGivesUpOnAQueryWhoseRunsKeepFailing(t *testing.T) {
	r := &failingRunner{gaveUp: make(chan string, 10)}
	p := startPool(t, r, 1)
	p.retryAfter = time.Millisecond
	key := types.NamespacedName{Namespace: "ns", Name: "poison"}
	p.Submit(Query{Key: key, UID: "u", Generation: 1})
	select {
	case got := <-r.gaveUp:
		if want := fmt.Sprintf("%d: run %d failed", maxFailedRuns, maxFailedRuns); got != want {
			t.Errorf("gave up with %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the pool retried %d failed runs and never gave up", r.runs.Load())
	}
	waitIdle(t, p, []types.NamespacedName{key})
	time.Sleep(50 * time.Millisecond)
	if n := r.runs.Load(); n != maxFailedRuns {
		t.Errorf("%d runs, want %d: after giving up the pool stops retrying", n, maxFailedRuns)
	}
}

func TestPoolInterruptStopsOnlyARunOfAnOlderGeneration(t *testing.T) {
	r := &recordingRunner{runs: map[types.NamespacedName]int{}, block: make(chan struct{}), started: make(chan types.NamespacedName, 4)}
	p := startPool(t, r, 1)
	key := types.NamespacedName{Namespace: "ns", Name: "cancelled"}
	p.Submit(Query{Key: key, UID: "u", Generation: 1})
	<-r.started
	// The cancel (generation 2) stops the run of generation 1, and generation 2 runs.
	cancelled := Query{Key: key, UID: "u", Generation: 2}
	p.Submit(cancelled)
	p.Interrupt(cancelled, errors.New("cancelled"))
	<-r.started
	// A late Interrupt for generation 2 (a reconcile of the run's own status write) must
	// leave the run that records the cancellation alone.
	p.Interrupt(cancelled, errors.New("cancelled"))
	time.Sleep(50 * time.Millisecond)
	if !active(p, key) {
		t.Fatal("a late Interrupt stopped the run of the generation it was submitted with")
	}
	close(r.block)
	waitIdle(t, p, []types.NamespacedName{key})
	if n := r.count(key); n != 2 {
		t.Errorf("%d runs, want 2", n)
	}
}
