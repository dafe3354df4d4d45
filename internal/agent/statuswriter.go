package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

var (
	// errQueryGone means the query was deleted (or replaced) while it ran.
	errQueryGone = errors.New("the query was deleted")
	// errQueryLost means another run holds the query now (status.runID is not this
	// run's): a paused replica that another one replaced. The run stops writing nothing.
	errQueryLost = errors.New("another run holds the query")
	// errQueryChanged means the query changed between the run's read and its first
	// write: the run starts again from what the query is now.
	errQueryChanged = errors.New("the query changed before the run claimed it")
)

// statusRejectedError is the API server refusing a status as invalid: writing it again
// cannot succeed.
type statusRejectedError struct{ err error }

func (e *statusRejectedError) Error() string {
	return "the API server rejected the status: " + e.err.Error()
}
func (e *statusRejectedError) Unwrap() error { return e.err }

// Bounds of the retries of a status write: transient API errors (429, 5xx, timeouts,
// a dropped connection) are retried with backoff within writeRetryBudget; conflicts
// are re-fenced at most maxConflicts times in a row.
const (
	writeRetryBudget = 30 * time.Second
	maxConflicts     = 10
)

// statusWriter persists a query's status while its run goes on.
//
// save records the newest status and returns at once; a background flusher writes it,
// at most once per interval, so the steps of a fast run cost a few writes rather than
// two each: status writes are most of the API server's work for a query, and the API
// server is what limits how many queries run at once. write persists synchronously, for
// what must be durable before the run goes on: a change about to be made to the cluster
// and its result, and the end of the run.
//
// Invariants: one patch is in flight at a time, and a status is never written after a
// newer one. Every patch is a merge patch of the whole status, conditional on the UID
// (a run never writes into a different query that reuses the name) and on the
// resourceVersion this writer last read or wrote, and it carries the run's runID. The
// first successful patch claims the query for the run. When a patch conflicts, the
// writer reads the query again: if its runID is still this run's, someone else changed
// only what a run does not own (spec, labels), and the patch is sent again; otherwise
// another run holds the query, and nothing this run does is written any more. So a
// replica that lost the query (paused past its lease) can never overwrite a newer
// record, and since a change to the cluster runs only after its Running record was
// written, it can never start one either.
type statusWriter struct {
	c client.Client
	// reader reads the query straight from the API server when a patch conflicts.
	reader   client.Reader
	key      types.NamespacedName
	uid      types.UID
	runID    string
	interval time.Duration
	// progress, if set, is the budget of progress writes shared by all runs: a flush in
	// the background waits for it. What write persists never does.
	progress *rate.Limiter
	// rec redacts what is written: everyone who may read the query reads it.
	rec recorder

	mu      sync.Mutex
	pending *agentsv1alpha1.AgentQueryStatus // newest saved status
	seq     uint64                           // number of pending
	failed  error                            // a background write's error, for the next save

	patchMu sync.Mutex // held while a patch is in flight
	written uint64     // number of the newest status persisted
	sent    time.Time  // when the last patch was sent
	rv      string     // the resourceVersion the next patch is conditional on
	claimed bool       // a patch of this run succeeded: status.runID is this run's
	// last is the newest status persisted by this writer, or the query's status as read.
	last *agentsv1alpha1.AgentQueryStatus

	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// newStatusWriter starts the writer of q's status for the run runID; stop ends it. q is
// the query as the run read it: its resourceVersion fences the first write.
func newStatusWriter(ctx context.Context, c client.Client, reader client.Reader, q *agentsv1alpha1.AgentQuery, runID string, interval time.Duration) *statusWriter {
	ctx, cancel := context.WithCancel(ctx)
	w := &statusWriter{c: c, reader: reader, key: client.ObjectKeyFromObject(q), uid: q.UID, runID: runID,
		interval: interval, rv: q.ResourceVersion, last: q.Status.DeepCopy(),
		kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go w.flusher(ctx)
	return w
}

// stop ends the flusher and waits for a patch in flight. A saved status not yet written
// is dropped: every end of a run is written with write, and a run that stops otherwise
// starts again from what was persisted.
func (w *statusWriter) stop() {
	w.cancel()
	<-w.done
}

// save records st to be written soon. It returns the error of an earlier background
// write: errQueryGone once the query is deleted, errQueryLost once another run holds
// it. It first sets the conditions that follow from st's phase (see
// setOutcomeConditions), in st itself so that their transition times persist.
func (w *statusWriter) save(st *agentsv1alpha1.AgentQueryStatus) error {
	setOutcomeConditions(st)
	bounded := w.rec.record(st) // a copy: the run goes on changing st
	bounded.RunID = w.runID
	w.mu.Lock()
	if err := w.failed; err != nil {
		w.mu.Unlock()
		return err
	}
	w.seq++
	w.pending = bounded
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default: // a flush is already due; it takes the newest status
	}
	return nil
}

// write persists st (and anything saved before it) before it returns.
func (w *statusWriter) write(ctx context.Context, st *agentsv1alpha1.AgentQueryStatus) error {
	if err := w.save(st); err != nil {
		return err
	}
	return w.flush(ctx)
}

// lastWritten returns a copy of the newest status this writer persisted (or the
// query's status as the run read it).
func (w *statusWriter) lastWritten() *agentsv1alpha1.AgentQueryStatus {
	w.patchMu.Lock()
	defer w.patchMu.Unlock()
	return w.last.DeepCopy()
}

// replace persists st as it is, dropping anything saved and not yet written: for the
// record of a failure after the API server rejected a status. It bypasses the sticky
// error of a background write.
func (w *statusWriter) replace(ctx context.Context, st *agentsv1alpha1.AgentQueryStatus) error {
	setOutcomeConditions(st)
	bounded := w.rec.record(st)
	bounded.RunID = w.runID
	w.patchMu.Lock()
	defer w.patchMu.Unlock()
	w.mu.Lock()
	w.seq++
	seq := w.seq
	w.pending, w.failed = bounded, nil
	w.mu.Unlock()
	if err := w.patch(ctx, bounded); err != nil {
		return err
	}
	w.written = seq
	return nil
}

func (w *statusWriter) flusher(ctx context.Context) {
	defer close(w.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		}
		w.patchMu.Lock()
		wait := w.interval - time.Since(w.sent)
		w.patchMu.Unlock()
		if wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		if w.progress != nil && !w.upToDate() {
			if err := w.progress.Wait(ctx); err != nil {
				return // the writer stopped
			}
		}
		if err := w.flush(ctx); err != nil && ctx.Err() == nil {
			w.mu.Lock()
			if w.failed == nil {
				w.failed = err
			}
			w.mu.Unlock()
		}
	}
}

// upToDate reports whether the newest saved status is written.
func (w *statusWriter) upToDate() bool {
	w.mu.Lock()
	seq := w.seq
	w.mu.Unlock()
	w.patchMu.Lock()
	defer w.patchMu.Unlock()
	return seq <= w.written
}

// flush writes the newest saved status unless it is written already.
func (w *statusWriter) flush(ctx context.Context) error {
	w.patchMu.Lock()
	defer w.patchMu.Unlock()
	w.mu.Lock()
	st, seq := w.pending, w.seq
	w.mu.Unlock()
	if seq <= w.written {
		return nil
	}
	w.sent = time.Now()
	if err := w.patch(ctx, st); err != nil {
		return err
	}
	w.written = seq
	return nil
}

// patch writes st, fenced as the type's comment says. Callers hold patchMu.
func (w *statusWriter) patch(ctx context.Context, st *agentsv1alpha1.AgentQueryStatus) error {
	retryUntil := time.Now().Add(writeRetryBudget)
	backoff := 100 * time.Millisecond
	for conflicts := 0; ; {
		body, err := json.Marshal(map[string]any{
			"metadata": map[string]any{"uid": w.uid, "resourceVersion": w.rv},
			"status":   st,
		})
		if err != nil {
			return fmt.Errorf("encoding status: %w", err)
		}
		q := &agentsv1alpha1.AgentQuery{}
		q.Namespace, q.Name = w.key.Namespace, w.key.Name
		err = w.c.Status().Patch(ctx, q, client.RawPatch(types.MergePatchType, body))
		switch {
		case err == nil:
			w.rv, w.claimed, w.last = q.ResourceVersion, true, st
			return nil
		case apierrors.IsNotFound(err):
			return errQueryGone
		case apierrors.IsConflict(err):
			if conflicts++; conflicts > maxConflicts {
				return fmt.Errorf("writing status of %s: %d conflicts in a row: %w", w.key, conflicts-1, err)
			}
			if err := w.refence(ctx); err != nil {
				return err
			}
		case apierrors.IsInvalid(err) || apierrors.IsRequestEntityTooLargeError(err):
			return &statusRejectedError{err: err}
		case transientAPIError(err) && time.Now().Before(retryUntil):
			select {
			case <-ctx.Done():
				return fmt.Errorf("writing status of %s: %w", w.key, err)
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
		default:
			return fmt.Errorf("writing status of %s: %w", w.key, err)
		}
	}
}

// refence reads the query after a conflict and decides whether this run may go on
// writing it: yes (with the new resourceVersion) only while status.runID is its own.
func (w *statusWriter) refence(ctx context.Context) error {
	cur := &agentsv1alpha1.AgentQuery{}
	if err := w.reader.Get(ctx, w.key, cur); err != nil {
		if apierrors.IsNotFound(err) {
			return errQueryGone
		}
		return fmt.Errorf("reading %s after a conflicting status write: %w", w.key, err)
	}
	switch {
	case cur.UID != w.uid:
		return errQueryGone
	case cur.Status.RunID != w.runID && w.claimed:
		return errQueryLost
	case cur.Status.RunID != w.runID:
		return errQueryChanged
	}
	w.rv = cur.ResourceVersion
	return nil
}
