package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/trigger/filter"
	"github.com/kubeask/kubeask/internal/trigger/prompt"
)

// ConditionReady is the trigger condition that says whether it can fire.
const ConditionReady = "Ready"

// Defaults of Events.
const (
	// DefaultFreshness: an event last seen longer ago than this never fires, so that
	// the operator starting (and listing every Warning event of the cluster) does not
	// fire on history.
	DefaultFreshness = 10 * time.Minute
	// unreadableFor is how long a namespace whose events a requester may not read is
	// skipped without asking again.
	unreadableFor = time.Minute
)

// Events fires event triggers. The operator watches Warning events with its own
// rights only to decide when to fire; what reaches a prompt is read again as the
// trigger's requester first (Firing.Readable).
type Events struct {
	// Client is the operator's own client: its cache of triggers and namespaces.
	Client client.Client
	Firer  *Firer
	// Freshness is DefaultFreshness when zero.
	Freshness time.Duration

	mu sync.Mutex
	// unreadable remembers, per trigger and namespace, until when the requester was
	// found unable to read events there.
	unreadable map[string]time.Time
}

// Handle fires every trigger that ev matches.
func (e *Events) Handle(ctx context.Context, ev *corev1.Event) error {
	if ev.Type != corev1.EventTypeWarning {
		return nil
	}
	now := e.Firer.Now()
	last := lastSeen(ev)
	freshness := e.Freshness
	if freshness == 0 {
		freshness = DefaultFreshness
	}
	if now.Sub(last) > freshness {
		return nil
	}
	var triggers agentsv1alpha1.AgentTriggerList
	if err := e.Client.List(ctx, &triggers); err != nil {
		return fmt.Errorf("listing triggers: %w", err)
	}
	var errs []error
	for i := range triggers.Items {
		t := &triggers.Items[i]
		if !Armed(t) || t.Spec.Events == nil || last.Before(t.CreationTimestamp.Time) {
			continue
		}
		ok, err := e.matches(ctx, t, ev)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok || e.isUnreadable(t, ev.Namespace, now) {
			continue
		}
		if err := e.fire(ctx, t, ev); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Armed reports whether a trigger may fire: not suspended, and found Ready by the
// reconciler for its current spec.
func Armed(t *agentsv1alpha1.AgentTrigger) bool {
	if t.Spec.Suspend || t.DeletionTimestamp != nil || t.Spec.Requester == nil {
		return false
	}
	c := meta.FindStatusCondition(t.Status.Conditions, ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == t.Generation
}

// matches reports whether ev is in t's scope and passes its filter.
func (e *Events) matches(ctx context.Context, t *agentsv1alpha1.AgentTrigger, ev *corev1.Event) (bool, error) {
	src := t.Spec.Events
	if src.NamespaceSelector == nil {
		if ev.Namespace != t.Namespace {
			return false, nil
		}
	} else {
		sel, err := metav1.LabelSelectorAsSelector(src.NamespaceSelector)
		if err != nil {
			return false, nil //nolint:nilerr // refused by validation: such a trigger is not Ready and never armed
		}
		var ns corev1.Namespace
		if err := e.Client.Get(ctx, client.ObjectKey{Name: ev.Namespace}, &ns); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		if !sel.Matches(labels.Set(ns.Labels)) {
			return false, nil
		}
	}
	f, err := filter.NewEventFilter(src)
	if err != nil {
		return false, nil //nolint:nilerr // refused by validation: such a trigger is not Ready and never armed
	}
	return f.Matches(ev), nil
}

func (e *Events) fire(ctx context.Context, t *agentsv1alpha1.AgentTrigger, ev *corev1.Event) error {
	src := t.Spec.Events
	obj := ev.InvolvedObject
	subject := string(obj.UID)
	if subject == "" {
		subject = obj.Kind + "/" + obj.Namespace + "/" + obj.Name
	}
	cooldown := time.Hour
	if src.Cooldown != nil {
		cooldown = src.Cooldown.Duration
	}
	key := client.ObjectKeyFromObject(ev)
	fr := Firing{
		Key:            "event/" + subject + "/" + ev.Reason,
		Cooldown:       cooldown,
		PerHour:        src.MaxQueriesPerHour,
		Data:           EventData(t, ev, e.Firer.Now()),
		Source:         fmt.Sprintf("event %s on %s/%s in %s", ev.Reason, strings.ToLower(obj.Kind), obj.Name, ev.Namespace),
		InvolvedObject: strings.Join([]string{obj.APIVersion, obj.Kind, obj.Namespace, obj.Name}, "/"),
		Readable: func(ctx context.Context, asRequester client.Client) error {
			err := asRequester.Get(ctx, key, &corev1.Event{})
			if err != nil {
				e.markUnreadable(t, ev.Namespace)
			}
			return err
		},
	}
	_, _, err := e.Firer.Fire(ctx, t, fr)
	var notReady *NotReadyError
	if errors.As(err, &notReady) {
		e.Firer.NotReady(t, notReady)
		log.FromContext(ctx).Info("trigger cannot fire", "trigger", t.Namespace+"/"+t.Name, "reason", notReady.Reason, "message", notReady.Message)
		return nil
	}
	return err
}

func (e *Events) isUnreadable(t *agentsv1alpha1.AgentTrigger, ns string, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	until, ok := e.unreadable[string(t.UID)+"/"+ns]
	if ok && now.After(until) {
		delete(e.unreadable, string(t.UID)+"/"+ns)
		return false
	}
	return ok
}

func (e *Events) markUnreadable(t *agentsv1alpha1.AgentTrigger, ns string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.unreadable == nil {
		e.unreadable = map[string]time.Time{}
	}
	e.unreadable[string(t.UID)+"/"+ns] = e.Firer.Now().Add(unreadableFor)
}

// lastSeen is when ev last happened, whichever API wrote it.
func lastSeen(ev *corev1.Event) time.Time {
	switch {
	case ev.Series != nil && !ev.Series.LastObservedTime.IsZero():
		return ev.Series.LastObservedTime.Time
	case !ev.LastTimestamp.IsZero():
		return ev.LastTimestamp.Time
	case !ev.EventTime.IsZero():
		return ev.EventTime.Time
	}
	return ev.CreationTimestamp.Time
}

// firstSeen is when ev first happened.
func firstSeen(ev *corev1.Event) time.Time {
	switch {
	case !ev.FirstTimestamp.IsZero():
		return ev.FirstTimestamp.Time
	case !ev.EventTime.IsZero():
		return ev.EventTime.Time
	}
	return ev.CreationTimestamp.Time
}

// EventData is the prompt data of an event that fired t at now.
func EventData(t *agentsv1alpha1.AgentTrigger, ev *corev1.Event, now time.Time) prompt.Data {
	last := lastSeen(ev)
	count := ev.Count
	if ev.Series != nil && ev.Series.Count > count {
		count = ev.Series.Count
	}
	component := ev.Source.Component
	if component == "" {
		component = ev.ReportingController
	}
	obj := ev.InvolvedObject
	return prompt.Data{
		Trigger:   t.Name,
		Namespace: ev.Namespace,
		Time:      now,
		Source:    prompt.SourceEvent,
		Event: &prompt.Event{
			Reason: ev.Reason, Message: ev.Message, Type: ev.Type, Count: count,
			FirstTime: firstSeen(ev), LastTime: last, Component: component,
			Object: prompt.ObjectRef{APIVersion: obj.APIVersion, Kind: obj.Kind, Namespace: obj.Namespace, Name: obj.Name},
		},
	}
}
