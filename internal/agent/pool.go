package agent

import (
	"context"
	"errors"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Runner runs one query until it finishes or waits.
type Runner interface {
	Run(ctx context.Context, key types.NamespacedName) error
}

// GivingUpRunner is a Runner that can end a query whose runs keep failing, so that no
// query is retried forever.
type GivingUpRunner interface {
	Runner
	GiveUp(ctx context.Context, key types.NamespacedName, runs int, last error) error
}

// maxFailedRuns is how many runs of one query generation may fail in a row before the
// pool gives up on it (each failed run is retried after retryAfter).
const maxFailedRuns = 5

// Pool runs queries on a fixed number of workers, outside the reconcile loop, so a
// slow model never holds up reconciliation. A query is queued or running at most once
// at a time; it runs only on the leader (NeedLeaderElection), so two replicas never run
// the same query.
type Pool struct {
	runner  Runner
	workers int
	// retryAfter is how long a run that returned an error waits before it is retried.
	retryAfter time.Duration

	mu sync.Mutex
	// ready is signalled when the queue grows or the pool stops.
	ready *sync.Cond
	// queue holds the keys waiting for a worker, in order; it has no bound, so that a
	// burst of queries is never dropped (each key is in it at most once).
	queue   []types.NamespacedName
	stopped bool
	active  map[types.NamespacedName]*slot
	// settled remembers, for a while, the queries whose last run ended with nothing left
	// to do at their generation (answered, failed, waiting for approval). The
	// reconciler's cache lags behind the run's own status writes; without this, each
	// late event of a finished query would start a run only to read that it is done.
	settled   map[types.NamespacedName]settledRun
	sweptSize int
	// failures counts the runs of a query generation that failed in a row.
	failures map[types.NamespacedName]failedRuns
}

// failedRuns counts the failed runs of one generation of a query.
type failedRuns struct {
	uid        types.UID
	generation int64
	n          int
}

// settledRun is a query whose run ended at generation with nothing left to do.
type settledRun struct {
	uid        types.UID
	generation int64
	at         time.Time
}

// settledFor is how long a settled run is remembered: far longer than the cache lags.
const settledFor = 5 * time.Minute

// Query names one generation of a query, as the reconciler saw it.
type Query struct {
	Key        types.NamespacedName
	UID        types.UID
	Generation int64
}

type slot struct {
	cancel context.CancelCauseFunc // set while running
	// uid and generation are the newest query generation submitted. A submit with a
	// newer one while the query runs (an approval is a spec change) runs it once more
	// after; a submit of a generation already seen (its own status writes, a lagging
	// cache) does nothing.
	uid        types.UID
	generation int64
	// started is the generation submitted when the current run started.
	started int64
	again   bool // run once more after the current run
	gone    bool // cancelled while queued: skip
}

// NewPool returns a pool of workers for runner.
func NewPool(runner Runner, workers int) *Pool {
	if workers <= 0 {
		workers = 1
	}
	p := &Pool{
		runner: runner, workers: workers,
		retryAfter: 5 * time.Second,
		active:     map[types.NamespacedName]*slot{},
		settled:    map[types.NamespacedName]settledRun{},
		failures:   map[types.NamespacedName]failedRuns{},
	}
	p.ready = sync.NewCond(&p.mu)
	return p
}

// Submit queues q unless it is already queued, or its last run ended at this generation
// with nothing left to do. If it is running and q's generation is newer than what it
// was submitted with, it runs once more after the current run, so that a change seen
// meanwhile (an approval) is not lost.
func (p *Pool) Submit(q Query) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.active[q.Key]; ok {
		if q.UID != s.uid || q.Generation > s.generation {
			s.uid, s.generation = q.UID, q.Generation
			s.again = s.cancel != nil // running: once more after; queued: the run reads it
		}
		s.gone = false
		return
	}
	if done, ok := p.settled[q.Key]; ok && done.uid == q.UID && q.Generation <= done.generation && time.Since(done.at) < settledFor {
		return
	}
	p.queue = append(p.queue, q.Key)
	p.active[q.Key] = &slot{uid: q.UID, generation: q.Generation}
	p.ready.Signal()
}

// settle records that key's run ended with nothing left to do at s's generation, and
// forgets old records. Callers hold mu.
func (p *Pool) settle(key types.NamespacedName, s *slot) {
	p.settled[key] = settledRun{uid: s.uid, generation: s.generation, at: time.Now()}
	if len(p.settled) < 2*p.sweptSize+1024 {
		return
	}
	for k, r := range p.settled {
		if time.Since(r.at) >= settledFor {
			delete(p.settled, k)
		}
	}
	p.sweptSize = len(p.settled)
}

// Cancel stops key's run (the query was deleted).
func (p *Pool) Cancel(key types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.settled, key)
	delete(p.failures, key)
	if s, ok := p.active[key]; ok {
		s.again = false
		if s.cancel != nil {
			s.cancel(errQueryDeleted)
		} else {
			s.gone = true
		}
	}
}

// Interrupt stops q's run in progress with cause, after the tool call in flight, if that
// run started from a generation older than q's; q (submitted before) runs next. That is
// how a cancellation stops a run: the next run reads spec.cancel and records it, and a
// late Interrupt for the same generation leaves that run alone.
func (p *Pool) Interrupt(q Query, cause error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.active[q.Key]; ok && s.cancel != nil && s.uid == q.UID && s.started < q.Generation {
		s.cancel(cause)
	}
}

// NeedLeaderElection is true: only the leader runs queries.
func (p *Pool) NeedLeaderElection() bool { return true }

// Start runs the workers until ctx ends, then waits for the runs to stop. Runs see
// their context cancelled, but a tool call in flight finishes and is recorded.
func (p *Pool) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	for range p.workers {
		wg.Go(func() { p.work(ctx) })
	}
	<-ctx.Done()
	p.mu.Lock()
	p.stopped = true
	p.ready.Broadcast()
	p.mu.Unlock()
	wg.Wait()
	return nil
}

func (p *Pool) work(ctx context.Context) {
	for {
		p.mu.Lock()
		for len(p.queue) == 0 && !p.stopped {
			p.ready.Wait()
		}
		if p.stopped {
			p.mu.Unlock()
			return
		}
		key := p.queue[0]
		p.queue[0] = types.NamespacedName{}
		p.queue = p.queue[1:]
		p.mu.Unlock()
		p.runOne(ctx, key)
	}
}

func (p *Pool) runOne(ctx context.Context, key types.NamespacedName) {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	p.mu.Lock()
	s := p.active[key]
	if s == nil || s.gone {
		delete(p.active, key)
		p.mu.Unlock()
		return
	}
	s.cancel, s.started = cancel, s.generation
	p.mu.Unlock()

	err := p.runner.Run(runCtx, key)
	retryAfter := p.retryAfter
	var retry *RetryError
	switch {
	case errors.As(err, &retry):
		retryAfter = retry.After
	case err != nil && runCtx.Err() == nil: // not cancelled: the query was not deleted, nor the operator stopped
		log.FromContext(ctx).Error(err, "query run failed; retrying", "query", key, "after", retryAfter)
	}

	failed := err != nil && retry == nil && runCtx.Err() == nil
	giveUp := p.countFailure(key, s, failed)
	if giveUp > 0 {
		if g, ok := p.runner.(GivingUpRunner); ok {
			if gerr := g.GiveUp(ctx, key, giveUp, err); gerr != nil {
				log.FromContext(ctx).Error(gerr, "could not end a query whose runs keep failing", "query", key)
			} else {
				err = nil
			}
		}
	}

	p.mu.Lock()
	again, q := s.again, Query{Key: key, UID: s.uid, Generation: s.generation}
	delete(p.active, key)
	if err == nil && !again && runCtx.Err() == nil {
		p.settle(key, s)
	}
	p.mu.Unlock()
	switch {
	case ctx.Err() != nil:
	case again:
		p.Submit(q)
	case err != nil && runCtx.Err() == nil:
		time.AfterFunc(retryAfter, func() {
			if ctx.Err() == nil {
				p.Submit(q)
			}
		})
	}
}

// countFailure counts a failed run of s's generation of key (or forgets the count after
// a run that did not fail), and returns the number of failed runs in a row once it
// reaches maxFailedRuns, else 0.
func (p *Pool) countFailure(key types.NamespacedName, s *slot, failed bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !failed {
		delete(p.failures, key)
		return 0
	}
	f := p.failures[key]
	if f.uid != s.uid || f.generation != s.generation {
		f = failedRuns{uid: s.uid, generation: s.generation}
	}
	f.n++
	if f.n < maxFailedRuns {
		p.failures[key] = f
		return 0
	}
	delete(p.failures, key)
	return f.n
}
