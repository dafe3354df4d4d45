package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// errQueryGone means the query was deleted (or replaced) while it ran.
var errQueryGone = errors.New("the query was deleted")

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
// newer one. Each patch is a merge patch of the whole status with the query's UID as
// precondition, so that a run never writes into a different query that reuses the name.
type statusWriter struct {
	c        client.Client
	key      types.NamespacedName
	uid      types.UID
	interval time.Duration
	// rec redacts what is written: everyone who may read the query reads it.
	rec recorder

	mu      sync.Mutex
	pending *agentsv1alpha1.AgentQueryStatus // newest saved status
	seq     uint64                           // number of pending
	failed  error                            // a background write's error, for the next save

	patchMu sync.Mutex // held while a patch is in flight
	written uint64     // number of the newest status persisted
	sent    time.Time  // when the last patch was sent

	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// newStatusWriter starts the writer of a query's status; stop ends it.
func newStatusWriter(ctx context.Context, c client.Client, key types.NamespacedName, uid types.UID, interval time.Duration) *statusWriter {
	ctx, cancel := context.WithCancel(ctx)
	w := &statusWriter{c: c, key: key, uid: uid, interval: interval,
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
// write: errQueryGone once the query is deleted.
func (w *statusWriter) save(st *agentsv1alpha1.AgentQueryStatus) error {
	bounded := w.rec.record(st) // a copy: the run goes on changing st
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
		if err := w.flush(ctx); err != nil && ctx.Err() == nil {
			w.mu.Lock()
			if w.failed == nil {
				w.failed = err
			}
			w.mu.Unlock()
		}
	}
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

func (w *statusWriter) patch(ctx context.Context, st *agentsv1alpha1.AgentQueryStatus) error {
	body, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": w.uid},
		"status":   st,
	})
	if err != nil {
		return fmt.Errorf("encoding status: %w", err)
	}
	q := &agentsv1alpha1.AgentQuery{}
	q.Namespace, q.Name = w.key.Namespace, w.key.Name
	err = w.c.Status().Patch(ctx, q, client.RawPatch(types.MergePatchType, body))
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return errQueryGone
	}
	if err != nil {
		return fmt.Errorf("writing status of %s: %w", w.key, err)
	}
	return nil
}
