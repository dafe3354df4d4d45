package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/trigger/alerts"
	"github.com/kubeask/kubeask/internal/trigger/filter"
	"github.com/kubeask/kubeask/internal/trigger/notify"
	"github.com/kubeask/kubeask/internal/trigger/prompt"
)

// tokenTTL is how long an alert trigger's token, read as its requester, is reused:
// Alertmanager may post often, and a rotated or revoked token takes effect within it.
const tokenTTL = 30 * time.Second

// Alerts connects the Alertmanager receiver to the Firer.
type Alerts struct {
	// Client is the operator's own client: its cache of triggers and queries.
	Client   client.Client
	Firer    *Firer
	Notifier *notify.Notifier

	mu     sync.Mutex
	tokens map[string]cachedToken
}

type cachedToken struct {
	token, version string
	until          time.Time
}

// Receiver returns the HTTP handler of /alerts/<namespace>/<trigger>.
func (a *Alerts) Receiver() *alerts.Receiver {
	return &alerts.Receiver{Trigger: a.trigger, Token: a.token, Match: match, Fire: a.fire}
}

func (a *Alerts) trigger(ctx context.Context, namespace, name string) (*agentsv1alpha1.AgentTrigger, error) {
	t := &agentsv1alpha1.AgentTrigger{}
	if err := a.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, t); err != nil {
		return nil, err
	}
	return t, nil
}

// token reads the trigger's token Secret as its requester, so that a trigger can only
// use a Secret its author may read.
func (a *Alerts) token(ctx context.Context, t *agentsv1alpha1.AgentTrigger) (string, error) {
	ref := t.Spec.Alerts.TokenSecretRef
	cacheKey := string(t.UID) + "/" + ref.Name + "/" + ref.Key
	version := t.ResourceVersion
	now := a.Firer.Now()
	a.mu.Lock()
	c, ok := a.tokens[cacheKey]
	a.mu.Unlock()
	if ok && c.version == version && now.Before(c.until) {
		return c.token, nil
	}
	asRequester, err := a.Firer.Users.ClientFor(t.Spec.Requester)
	if err != nil {
		return "", fmt.Errorf("%w: %w", alerts.ErrPermanent, err)
	}
	var s corev1.Secret
	if err := asRequester.Get(ctx, client.ObjectKey{Namespace: t.Namespace, Name: ref.Name}, &s); err != nil {
		return "", err
	}
	token := string(s.Data[ref.Key])
	a.mu.Lock()
	if a.tokens == nil {
		a.tokens = map[string]cachedToken{}
	}
	a.tokens[cacheKey] = cachedToken{token: token, version: version, until: now.Add(tokenTTL)}
	a.mu.Unlock()
	return token, nil
}

func match(t *agentsv1alpha1.AgentTrigger, labels map[string]string) (bool, error) {
	m, err := filter.CompileMatchers(t.Spec.Alerts.Matchers)
	if err != nil {
		return false, err
	}
	return m.Matches(labels), nil
}

// fire creates a query for a firing group (one per group until it resolves) or
// closes the loop for a resolved one.
func (a *Alerts) fire(ctx context.Context, t *agentsv1alpha1.AgentTrigger, n alerts.Notification) error {
	if !Armed(t) {
		return fmt.Errorf("%w: the trigger is not ready to fire (see its Ready condition)", alerts.ErrPermanent)
	}
	key := "alert/" + n.GroupKey
	if n.Status == alerts.StatusResolved {
		return a.resolve(ctx, t, key, n)
	}
	_, _, err := a.Firer.Fire(ctx, t, Firing{
		Key:     key,
		PerHour: t.Spec.Alerts.MaxQueriesPerHour,
		Data:    AlertData(t, n, a.Firer.Now()),
		Source:  "alert group " + labelString(n.GroupLabels),
	})
	var notReady *NotReadyError
	if errors.As(err, &notReady) {
		a.Firer.NotReady(t, notReady)
		return fmt.Errorf("%w: %s", alerts.ErrPermanent, notReady.Message)
	}
	return err
}

// resolve marks the group's open query resolved and tells the notify targets.
func (a *Alerts) resolve(ctx context.Context, t *agentsv1alpha1.AgentTrigger, key string, n alerts.Notification) error {
	var list agentsv1alpha1.AgentQueryList
	if err := a.Client.List(ctx, &list, client.InNamespace(t.Namespace), client.MatchingLabels{
		agentsv1alpha1.LabelTrigger: t.Name, agentsv1alpha1.LabelTriggerKey: KeyHash(key),
	}); err != nil {
		return err
	}
	a.Firer.MarkResolved(t, key)
	now := a.Firer.Now()
	var closed []string
	for i := range list.Items {
		q := &list.Items[i]
		if !ownedBy(q, t) || q.Annotations[agentsv1alpha1.AnnotationAlertResolved] != "" {
			continue
		}
		base := q.DeepCopy()
		if q.Annotations == nil {
			q.Annotations = map[string]string{}
		}
		q.Annotations[agentsv1alpha1.AnnotationAlertResolved] = now.UTC().Format(time.RFC3339)
		if err := a.Client.Patch(ctx, q, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("marking query %s resolved: %w", q.Name, err)
		}
		closed = append(closed, q.Name)
	}
	if len(closed) == 0 {
		return nil // nothing was open for this group (it fired before the trigger existed, or was limited)
	}
	log.FromContext(ctx).Info("alert group resolved", "trigger", t.Namespace+"/"+t.Name, "queries", closed)
	if t.Spec.Notify == nil || (t.Spec.Notify.Webhook == nil && t.Spec.Notify.Slack == nil) || a.Notifier == nil {
		return nil
	}
	msg := notify.Message{
		Trigger: t.Name, Namespace: t.Namespace, Query: closed[len(closed)-1], Resolved: true,
		Summary:   "resolved: " + labelString(n.GroupLabels),
		Source:    "alert group " + labelString(n.GroupLabels),
		Requester: t.Spec.Requester.Username, Time: now,
	}
	// Delivery may take a minute of retries; Alertmanager should not wait for it.
	go a.deliverResolved(context.WithoutCancel(ctx), t.DeepCopy(), msg)
	return nil
}

func (a *Alerts) deliverResolved(ctx context.Context, t *agentsv1alpha1.AgentTrigger, msg notify.Message) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	asRequester, err := a.Firer.Users.ClientFor(t.Spec.Requester)
	var res notify.Result
	if err != nil {
		res = notify.Result{Targets: []notify.TargetResult{{Target: "all", Error: err.Error()}}}
	} else {
		res = a.Notifier.Deliver(ctx, asRequester, t.Namespace, t.Spec.Notify, msg)
	}
	a.Firer.Record(t, func(s *Stats) {
		if res.Delivered() {
			s.Deliveries++
			return
		}
		s.FailedDeliveries++
		s.LastDeliveryError = res.Error()
	})
}

// AlertData is the prompt data of an alert notification.
func AlertData(t *agentsv1alpha1.AgentTrigger, n alerts.Notification, now time.Time) prompt.Data {
	group := &prompt.AlertGroup{
		Status: n.Status, GroupKey: n.GroupKey, Receiver: n.Receiver, ExternalURL: n.ExternalURL,
		GroupLabels: n.GroupLabels, CommonLabels: n.CommonLabels, CommonAnnotations: n.CommonAnnotations,
		TruncatedAlerts: int(min(n.Truncated, 1<<20)),
	}
	for _, al := range n.Alerts {
		group.Alerts = append(group.Alerts, prompt.Alert{
			Status: al.Status, Labels: al.Labels, Annotations: al.Annotations, StartsAt: al.StartsAt, EndsAt: al.EndsAt,
			GeneratorURL: al.GeneratorURL, Fingerprint: al.Fingerprint,
		})
	}
	return prompt.Data{Trigger: t.Name, Namespace: t.Namespace, Time: now, Source: prompt.SourceAlert, Alert: group}
}

// labelString prints labels as Alertmanager does: {a="1", b="2"}.
func labelString(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, labels[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
