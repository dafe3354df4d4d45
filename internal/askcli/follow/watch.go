// Package follow watches an AgentQuery as the agent works on it, and shows what happens:
// each step as it settles, a spinner while the model thinks, and the outcome.
package follow

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// ErrDeleted means the query was deleted while it was followed.
var ErrDeleted = errors.New("the query was deleted")

// Stopped reports whether q waits for nothing but a person: it has finished, or it
// awaits a decision on a proposed step that nobody has approved or denied yet. (Right
// after an approval the phase is still AwaitingApproval until the agent picks it up.)
func Stopped(q *agentsv1alpha1.AgentQuery) bool {
	if q.Status.Phase.Finished() {
		return true
	}
	if q.Status.Phase != agentsv1alpha1.QueryAwaitingApproval {
		return false
	}
	return len(Undecided(q)) > 0
}

// Undecided are the proposed steps that are neither approved nor denied in the spec.
// A step approved for other arguments than the ones it records is undecided: the
// approval does not run it.
func Undecided(q *agentsv1alpha1.AgentQuery) []agentsv1alpha1.Step {
	var out []agentsv1alpha1.Step
	for _, s := range q.Status.Steps {
		if s.State == agentsv1alpha1.StepProposed && !q.Decides(s) {
			out = append(out, s)
		}
	}
	return out
}

// Watch follows the query key until Stopped, calling seen with every state of it
// (first the current one). It returns the last state; ErrDeleted if the query goes
// away; ctx's error, with the last state, when ctx ends first.
func Watch(ctx context.Context, c client.WithWatch, key types.NamespacedName, seen func(*agentsv1alpha1.AgentQuery)) (*agentsv1alpha1.AgentQuery, error) {
	q := &agentsv1alpha1.AgentQuery{}
	if err := c.Get(ctx, key, q); err != nil {
		return nil, err
	}
	seen(q)
	for !Stopped(q) {
		next, err := watchOnce(ctx, c, q, seen)
		if next != nil {
			q = next
		}
		if err != nil {
			return q, err
		}
	}
	return q, nil
}

// watchOnce runs one watch from q's resourceVersion until it stops, the query stops,
// or the watch ends (then the caller watches again from the last state).
func watchOnce(ctx context.Context, c client.WithWatch, q *agentsv1alpha1.AgentQuery, seen func(*agentsv1alpha1.AgentQuery)) (*agentsv1alpha1.AgentQuery, error) {
	w, err := c.Watch(ctx, &agentsv1alpha1.AgentQueryList{}, client.InNamespace(q.Namespace),
		client.MatchingFields{"metadata.name": q.Name},
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: q.ResourceVersion, AllowWatchBookmarks: true}})
	if err != nil {
		if ctx.Err() != nil {
			return q, ctx.Err()
		}
		return q, fmt.Errorf("watching query %s: %w", q.Name, err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return q, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return q, ctx.Err()
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				next, ok := ev.Object.(*agentsv1alpha1.AgentQuery)
				if !ok || next.UID != q.UID {
					continue
				}
				q = next
				seen(q)
				if Stopped(q) {
					return q, nil
				}
			case watch.Deleted:
				return q, ErrDeleted
			case watch.Bookmark:
				if o, ok := ev.Object.(client.Object); ok {
					q = q.DeepCopy()
					q.ResourceVersion = o.GetResourceVersion()
				}
			case watch.Error:
				// Usually 410 Gone: the resourceVersion is too old. Start again from now.
				fresh := &agentsv1alpha1.AgentQuery{}
				if err := c.Get(ctx, client.ObjectKeyFromObject(q), fresh); err != nil {
					if apierrors.IsNotFound(err) {
						return q, ErrDeleted
					}
					return q, err
				}
				seen(fresh)
				return fresh, nil
			}
		}
	}
}
