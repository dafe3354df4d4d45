// Package engine fires AgentTriggers: it turns a schedule tick, a Kubernetes Event or
// an Alertmanager notification into an AgentQuery created as the trigger's requester,
// with de-duplication and rate limits, and keeps the counts the trigger's status shows.
//
// The operator's own credentials are used only to decide when to fire (its cache of
// triggers, queries, namespaces and Warning events) and to manage what it created. The
// query itself, and every read of data that reaches a prompt or a Secret, is made as
// the requester, so a trigger can never do or see more than its author.
package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/identity"
	"github.com/kubeask/kubeask/internal/trigger/prompt"
)

// Outcome is what became of a firing.
type Outcome string

const (
	// Fired: a query was created.
	Fired Outcome = "Fired"
	// Duplicate: a query about the same thing exists within the cooldown (or, for an
	// alert group, until it resolves), or the scheduled run was already created.
	Duplicate Outcome = "Duplicate"
	// Limited: the trigger reached maxQueriesPerHour.
	Limited Outcome = "Limited"
	// NotReadable: the requester may not read what fired the trigger.
	NotReadable Outcome = "NotReadable"
	// RenderFailed: the prompt does not render over this firing's data.
	RenderFailed Outcome = "RenderFailed"
)

// Firing is one reason to create a query.
type Firing struct {
	// Key identifies what the query is about (an involved object and reason, an alert
	// group); "" turns de-duplication off.
	Key string
	// Cooldown: no second query for Key within it. Zero with a Key means until the
	// last query for Key is marked resolved (alert groups).
	Cooldown time.Duration
	// PerHour bounds the trigger's queries in any hour; 0 means no bound.
	PerHour int32
	// Name fixes the query's name (a schedule's run), making the firing idempotent;
	// "" generates one.
	Name string
	// Data is what the prompt template is rendered over.
	Data prompt.Data
	// Source says, for people, what fired ("event BackOff on pod/x").
	Source string
	// InvolvedObject is "apiVersion/kind/namespace/name" of an event's object.
	InvolvedObject string
	// Readable, when set, checks as the requester (with the client given) that the
	// data that fired may be read by them. It runs only for a firing that passed the
	// de-duplication and limits, so a storm costs no requests. Its error is reported
	// as NotReadable.
	Readable func(ctx context.Context, asRequester client.Client) error
}

// NotReadyError means the trigger cannot fire at all (its requester is refused or may
// not create queries, its template fails): the trigger's Ready condition says so.
type NotReadyError struct {
	Reason, Message string
}

func (e *NotReadyError) Error() string { return e.Message }

// Reasons of NotReadyError, also used as the Ready condition's reason.
const (
	ReasonRequesterRefused   = "RequesterRefused"
	ReasonRequesterForbidden = "RequesterForbidden"
	ReasonInvalidSpec        = "InvalidSpec"
	ReasonModeNotAllowed     = "ModeNotAllowed"
	ReasonSessionForbidden   = "SessionForbidden"
)

// Firer creates the queries of triggers. It is safe for concurrent use.
type Firer struct {
	// Client is the operator's own client: it reads its cache of queries.
	Client client.Client
	Users  Users
	// Now is the clock; tests move it.
	Now func() time.Time
	// Changed is told about a trigger whose counts changed, so its status is written.
	Changed func(types.NamespacedName)

	mu       sync.Mutex
	triggers map[types.UID]*state
}

// state is what this replica remembers of one trigger between the cache's updates:
// queries it created that the cache may not show yet, and counts not yet written.
type state struct {
	mu      sync.Mutex // serializes firings of the trigger
	created map[string]createdQuery
	stats   Stats
}

type createdQuery struct {
	key      string
	at       time.Time
	resolved bool
}

// Stats are counts not yet added to a trigger's status.
type Stats struct {
	Fired, Duplicate, Limited, NotReadable int64
	Deliveries, FailedDeliveries           int64
	LastDeliveryError                      string
	LastFire                               *metav1.Time
	LastQuery                              string
	// NotReady is why a firing found that the trigger cannot fire.
	NotReady *NotReadyError
}

// Empty reports whether there is nothing to write.
func (s Stats) Empty() bool { return s == Stats{} }

func (f *Firer) state(uid types.UID) *state {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.triggers == nil {
		f.triggers = map[types.UID]*state{}
	}
	s := f.triggers[uid]
	if s == nil {
		s = &state{created: map[string]createdQuery{}}
		f.triggers[uid] = s
	}
	return s
}

// Forget drops what is remembered of a deleted trigger.
func (f *Firer) Forget(uid types.UID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.triggers, uid)
}

// TakeStats returns and clears the counts not yet written for a trigger. A caller that
// fails to write them gives them back with ReturnStats.
func (f *Firer) TakeStats(uid types.UID) Stats {
	s := f.state(uid)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.stats
	s.stats = Stats{}
	return out
}

// ReturnStats adds back counts that could not be written.
func (f *Firer) ReturnStats(uid types.UID, st Stats) {
	f.record(uid, types.NamespacedName{}, func(s *Stats) {
		s.Fired += st.Fired
		s.Duplicate += st.Duplicate
		s.Limited += st.Limited
		s.NotReadable += st.NotReadable
		s.Deliveries += st.Deliveries
		s.FailedDeliveries += st.FailedDeliveries
		if s.LastDeliveryError == "" {
			s.LastDeliveryError = st.LastDeliveryError
		}
		if s.LastFire == nil {
			s.LastFire, s.LastQuery = st.LastFire, st.LastQuery
		}
		if s.NotReady == nil {
			s.NotReady = st.NotReady
		}
	})
}

// NotReady records that a firing found t unable to fire, for its Ready condition.
func (f *Firer) NotReady(t *agentsv1alpha1.AgentTrigger, err *NotReadyError) {
	f.Record(t, func(s *Stats) { s.NotReady = err })
}

// Record changes a trigger's unwritten counts and tells Changed.
func (f *Firer) Record(t *agentsv1alpha1.AgentTrigger, change func(*Stats)) {
	f.record(t.UID, client.ObjectKeyFromObject(t), change)
}

func (f *Firer) record(uid types.UID, key types.NamespacedName, change func(*Stats)) {
	s := f.state(uid)
	s.mu.Lock()
	change(&s.stats)
	s.mu.Unlock()
	if f.Changed != nil && key.Name != "" {
		f.Changed(key)
	}
}

// KeyHash is the label value that stands for a firing key.
func KeyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:8])
}

// Fire creates a query for t unless de-duplication or limits say not to. It returns
// the query's name when one was created. A *NotReadyError means the trigger cannot
// fire at all; other errors are worth retrying.
func (f *Firer) Fire(ctx context.Context, t *agentsv1alpha1.AgentTrigger, fr Firing) (string, Outcome, error) {
	st := f.state(t.UID)
	st.mu.Lock()
	defer st.mu.Unlock()
	now := f.Now()

	mine, err := f.queries(ctx, t, st)
	if err != nil {
		return "", "", err
	}
	if outcome := f.suppressed(fr, mine, now); outcome != "" {
		st.stats.count(outcome)
		f.changed(t)
		return "", outcome, nil
	}
	tmpl, err := prompt.Parse(t.Spec.Query.Prompt)
	if err != nil {
		return "", "", &NotReadyError{Reason: ReasonInvalidSpec, Message: "spec.query.prompt: " + err.Error()}
	}
	text, err := tmpl.Render(fr.Data)
	if err != nil {
		// The data of this firing, not the trigger, is at fault (an empty event message,
		// a loop over too many alerts): the trigger stays ready for the next one.
		log.FromContext(ctx).Info("not firing: the prompt does not render for this data", "trigger", t.Namespace+"/"+t.Name, "error", err.Error())
		return "", RenderFailed, nil
	}
	asRequester, err := f.Users.ClientFor(t.Spec.Requester)
	if err != nil {
		if errors.Is(err, identity.ErrRefused) {
			return "", "", &NotReadyError{Reason: ReasonRequesterRefused, Message: err.Error()}
		}
		return "", "", err
	}
	if fr.Readable != nil {
		if err := fr.Readable(ctx, asRequester); err != nil {
			log.FromContext(ctx).V(1).Info("not firing: the requester may not read what fired the trigger", "trigger", t.Name, "error", err.Error())
			st.stats.NotReadable++
			f.changed(t)
			return "", NotReadable, nil
		}
	}
	q := newQuery(t, fr, text)
	if err := asRequester.Create(ctx, q); err != nil {
		switch {
		case apierrors.IsAlreadyExists(err) && fr.Name != "":
			return "", Duplicate, nil // this run was created before (by this or another replica)
		case apierrors.IsForbidden(err):
			return "", "", &NotReadyError{Reason: ReasonRequesterForbidden, Message: fmt.Sprintf("%s may not create the trigger's query: %v", t.Spec.Requester.Username, err)}
		case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
			return "", "", &NotReadyError{Reason: ReasonInvalidSpec, Message: "the query the trigger makes is invalid: " + err.Error()}
		}
		return "", "", fmt.Errorf("creating a query for trigger %s/%s: %w", t.Namespace, t.Name, err)
	}
	st.created[q.Name] = createdQuery{key: fr.Key, at: now}
	st.stats.Fired++
	st.stats.LastFire = &metav1.Time{Time: now}
	if fr.Data.Schedule != nil {
		st.stats.LastFire = &metav1.Time{Time: fr.Data.Schedule.ScheduledTime}
	}
	st.stats.LastQuery = q.Name
	f.changed(t)
	log.FromContext(ctx).Info("trigger fired", "trigger", t.Namespace+"/"+t.Name, "query", q.Name, "as", t.Spec.Requester.Username, "source", fr.Source)
	return q.Name, Fired, nil
}

func (f *Firer) changed(t *agentsv1alpha1.AgentTrigger) {
	if f.Changed != nil {
		f.Changed(client.ObjectKeyFromObject(t))
	}
}

func (s *Stats) count(o Outcome) {
	switch o {
	case Duplicate:
		s.Duplicate++
	case Limited:
		s.Limited++
	case NotReadable:
		s.NotReadable++
	}
}

// known is a query of the trigger, from the cache or from this replica's memory.
type known struct {
	key      string
	at       time.Time
	resolved bool
}

// queries returns the trigger's queries: those in the operator's cache, and those this
// replica created in the last two hours that the cache does not show (yet, or any more:
// the cache alone would let a storm through in the moment before it sees the first
// query, and history limits may delete a query that still counts).
func (f *Firer) queries(ctx context.Context, t *agentsv1alpha1.AgentTrigger, st *state) ([]known, error) {
	var list agentsv1alpha1.AgentQueryList
	if err := f.Client.List(ctx, &list, client.InNamespace(t.Namespace), client.MatchingLabels{agentsv1alpha1.LabelTrigger: t.Name}); err != nil {
		return nil, fmt.Errorf("listing the queries of trigger %s/%s: %w", t.Namespace, t.Name, err)
	}
	out := make([]known, 0, len(list.Items)+len(st.created))
	seen := map[string]int{}
	for i := range list.Items {
		q := &list.Items[i]
		if !ownedBy(q, t) {
			continue
		}
		seen[q.Name] = len(out)
		out = append(out, known{key: q.Labels[agentsv1alpha1.LabelTriggerKey], at: q.CreationTimestamp.Time, resolved: q.Annotations[agentsv1alpha1.AnnotationAlertResolved] != ""})
	}
	horizon := f.Now().Add(-2 * time.Hour)
	for name, c := range st.created {
		i, inCache := seen[name]
		switch {
		case c.at.Before(horizon):
			delete(st.created, name) // long enough ago not to count
		case inCache:
			// The cache may not show the resolution this replica just wrote.
			out[i].resolved = out[i].resolved || c.resolved
		default:
			out = append(out, known{key: KeyHash(c.key), at: c.at, resolved: c.resolved})
		}
	}
	return out, nil
}

// MarkResolved records that this replica's query for key was resolved, so that a
// query deleted since does not keep its group closed.
func (f *Firer) MarkResolved(t *agentsv1alpha1.AgentTrigger, key string) {
	st := f.state(t.UID)
	st.mu.Lock()
	defer st.mu.Unlock()
	for name, c := range st.created {
		if c.key == key {
			c.resolved = true
			st.created[name] = c
		}
	}
}

// suppressed says why fr must not fire, or "".
func (f *Firer) suppressed(fr Firing, mine []known, now time.Time) Outcome {
	if fr.Key != "" {
		h := KeyHash(fr.Key)
		for _, k := range mine {
			if k.key != h {
				continue
			}
			if fr.Cooldown > 0 && now.Sub(k.at) < fr.Cooldown {
				return Duplicate
			}
			if fr.Cooldown == 0 && !k.resolved {
				return Duplicate
			}
		}
	}
	if fr.PerHour > 0 {
		n := 0
		for _, k := range mine {
			if now.Sub(k.at) < time.Hour {
				n++
			}
		}
		if n >= int(fr.PerHour) {
			return Limited
		}
	}
	return ""
}

// ownedBy reports whether q was created by t (and not by an earlier trigger of the
// same name).
func ownedBy(q *agentsv1alpha1.AgentQuery, t *agentsv1alpha1.AgentTrigger) bool {
	return slices.ContainsFunc(q.OwnerReferences, func(o metav1.OwnerReference) bool { return o.UID == t.UID })
}

// newQuery is the query a firing creates.
func newQuery(t *agentsv1alpha1.AgentTrigger, fr Firing, prompt string) *agentsv1alpha1.AgentQuery {
	tmpl := t.Spec.Query
	mode := tmpl.Mode
	if mode == "" {
		mode = agentsv1alpha1.ModeReadOnly
	}
	q := &agentsv1alpha1.AgentQuery{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: t.Namespace,
			Labels:    map[string]string{agentsv1alpha1.LabelTrigger: t.Name},
			Annotations: map[string]string{
				agentsv1alpha1.AnnotationTriggerSource: fr.Source,
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: agentsv1alpha1.GroupVersion.String(), Kind: "AgentTrigger",
				Name: t.Name, UID: t.UID, Controller: new(true),
			}},
		},
		Spec: agentsv1alpha1.AgentQuerySpec{
			Prompt:     prompt,
			Mode:       &mode,
			Model:      tmpl.Model,
			Profile:    tmpl.Profile,
			MaxSteps:   tmpl.MaxSteps,
			Timeout:    tmpl.Timeout,
			SessionRef: tmpl.SessionRef,
		},
	}
	if fr.Name != "" {
		q.Name = fr.Name
	} else {
		q.GenerateName = t.Name + "-"
	}
	if fr.Key != "" {
		q.Labels[agentsv1alpha1.LabelTriggerKey] = KeyHash(fr.Key)
	}
	if fr.InvolvedObject != "" {
		q.Annotations[agentsv1alpha1.AnnotationInvolvedObject] = fr.InvolvedObject
	}
	return q
}
