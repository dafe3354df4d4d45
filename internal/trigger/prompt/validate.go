package prompt

import (
	"errors"
	"fmt"
	"text/template/parse"
	"time"
)

// Validate checks a prompt for a trigger of the given source (SourceSchedule,
// SourceEvent or SourceAlert) when the trigger is admitted or reconciled, rather than
// when it fires: it parses it, refuses fields of another source (.Event in a scheduled
// trigger, say) and renders it over Sample(source), which finds fields that do not
// exist (.Nope) and functions used wrongly.
//
// A map key missing from the sample (a label only real alerts have) is read as "" here;
// when the prompt is rendered for real, a missing key is an error unless read with index.
// For the same reason a prompt that prints nothing over the sample is only refused if
// it has no actions at all.
func Validate(text, source string) error {
	sample, err := Sample(source)
	if err != nil {
		return err
	}
	t, err := Parse(text)
	if err != nil {
		return err
	}
	if err := t.checkSource(source); err != nil {
		return err
	}
	_, err = t.render(sample, true)
	var empty emptyPromptError
	if errors.As(err, &empty) && hasActions(t.tree.Root) {
		// It may print something for real data: the prompt can come from a label or
		// annotation the sample does not have ({{index .Alert.CommonAnnotations "ask"}}).
		// Render still refuses an empty prompt when the trigger fires.
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w (found by rendering the prompt over a sample %s)", err, source)
	}
	return nil
}

// hasActions says whether a template has anything but text: a template of text and
// comments that renders to nothing always will.
func hasActions(root parse.Node) bool {
	found := false
	walk(root, func(n parse.Node) bool {
		switch n.(type) {
		case *parse.ActionNode, *parse.IfNode, *parse.RangeNode, *parse.WithNode:
			found = true
		}
		return !found
	})
	return found
}

// Sample returns realistic data of a source, as a trigger of that source would see it.
func Sample(source string) (Data, error) {
	fired := time.Date(2025, time.June, 2, 9, 0, 0, 0, time.UTC)
	switch source {
	case SourceSchedule:
		return Data{
			Trigger: "weekday-health-check", Namespace: "shop", Time: fired, Source: SourceSchedule,
			Schedule: &Schedule{Cron: "0 9 * * 1-5", TimeZone: "Europe/Paris", ScheduledTime: fired},
		}, nil
	case SourceEvent:
		pod := ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: "shop", Name: "checkout-7d9f4b6c8-x2x7q"}
		ev := &Event{
			Reason: "BackOff", Type: "Warning", Count: 12, Component: "kubelet", Object: pod,
			Message:   "Back-off restarting failed container checkout in pod checkout-7d9f4b6c8-x2x7q_shop(5b0c1f2e-8c3d-4e0a-9a57-2f1f0a6a1c11)",
			FirstTime: fired.Add(-30 * time.Minute), LastTime: fired,
		}
		return Data{
			Trigger: "crashloop-triage", Namespace: "shop", Time: fired, Source: SourceEvent,
			Object: ObjectString(pod.Kind, pod.Name), Kind: pod.Kind, Name: pod.Name,
			Reason: ev.Reason, Message: ev.Message, Type: ev.Type, Count: ev.Count, Event: ev,
		}, nil
	case SourceAlert:
		alert := func(pod string) Alert {
			return Alert{
				Status: "firing",
				Labels: map[string]string{"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": pod,
					"container": "checkout", "severity": "warning", "job": "kube-state-metrics"},
				Annotations: map[string]string{
					"summary":     "Pod is crash looping.",
					"description": "Pod shop/" + pod + " (checkout) is in waiting state (reason: CrashLoopBackOff).",
					"runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping",
				},
				StartsAt:     fired.Add(-15 * time.Minute),
				GeneratorURL: "http://prometheus.monitoring:9090/graph?g0.expr=max_over_time%28kube_pod_container_status_waiting_reason%5B5m%5D%29",
				Fingerprint:  "b4c6a0e1f2d3c4b5",
			}
		}
		group := &AlertGroup{
			Status: "firing", GroupKey: `{}/{severity="warning"}:{alertname="KubePodCrashLooping"}`,
			Receiver: "kubeask", ExternalURL: "http://alertmanager.monitoring:9093",
			GroupLabels:       map[string]string{"alertname": "KubePodCrashLooping"},
			CommonLabels:      map[string]string{"alertname": "KubePodCrashLooping", "namespace": "shop", "severity": "warning", "container": "checkout"},
			CommonAnnotations: map[string]string{"summary": "Pod is crash looping."},
			Alerts:            []Alert{alert("checkout-7d9f4b6c8-x2x7q"), alert("checkout-7d9f4b6c8-p9k2m")},
		}
		return Data{Trigger: "alert-triage", Namespace: "shop", Time: fired, Source: SourceAlert, Alert: group, Alerts: group.Alerts}, nil
	}
	return Data{}, fmt.Errorf("unknown trigger source %q; want %q, %q or %q", source, SourceSchedule, SourceEvent, SourceAlert)
}

// sourceOf says which source a top-level field of Data belongs to, or "" for the
// fields every prompt has.
func sourceOf(field string) string {
	switch field {
	case "Event", "Object", "Kind", "Name", "Reason", "Message", "Type", "Count":
		return SourceEvent
	case "Alert", "Alerts":
		return SourceAlert
	case "Schedule":
		return SourceSchedule
	}
	return ""
}

// describe words a source for the messages of checkSource.
func describe(source string) (fires, when, fields string) {
	switch source {
	case SourceSchedule:
		return "on a schedule", "the schedule fires the trigger", ".Trigger, .Namespace, .Time, .Source and .Schedule"
	case SourceEvent:
		return "on events", "an event fires the trigger", ".Trigger, .Namespace, .Time, .Source, .Object, .Kind, .Name, .Reason, .Message, .Type, .Count and .Event"
	default:
		return "on alerts", "an alert fires the trigger", ".Trigger, .Namespace, .Time, .Source, .Alert and .Alerts"
	}
}

// checkSource refuses a reference to a field of another source, where the parse tree
// shows it plainly: .X where dot is still the data (not inside range, or inside with
// unless it is {{with .}}), and $.X anywhere. Rendering the sample catches the rest
// when it is reached ({{$d := .}}{{$d.Event.Reason}}). A guarded use such as
// {{if .Event}} is refused too: a trigger has one source, so it is always a mistake.
func (t *Template) checkSource(source string) error {
	c := sourceChecker{tree: t.tree, source: source}
	c.node(t.tree.Root, true)
	return c.err
}

type sourceChecker struct {
	tree   *parse.Tree
	source string
	err    error
}

func (c *sourceChecker) field(n parse.Node, name string) {
	owner := sourceOf(name)
	if c.err != nil || owner == "" || owner == c.source {
		return
	}
	location, _ := c.tree.ErrorContext(n)
	fires, _, fields := describe(c.source)
	_, when, _ := describe(owner)
	c.err = fmt.Errorf("%s: .%s is only set when %s, and this trigger fires %s; its prompt can use %s", location, name, when, fires, fields)
}

func (c *sourceChecker) node(n parse.Node, rootDot bool) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, child := range n.Nodes {
			c.node(child, rootDot)
		}
	case *parse.ActionNode:
		c.pipe(n.Pipe, rootDot)
	case *parse.IfNode:
		c.pipe(n.Pipe, rootDot)
		c.node(n.List, rootDot)
		c.node(n.ElseList, rootDot)
	case *parse.WithNode:
		c.pipe(n.Pipe, rootDot)
		c.node(n.List, rootDot && isDot(n.Pipe))
		c.node(n.ElseList, rootDot)
	case *parse.RangeNode:
		c.pipe(n.Pipe, rootDot)
		c.node(n.List, false)
		c.node(n.ElseList, rootDot)
	}
}

func (c *sourceChecker) pipe(p *parse.PipeNode, rootDot bool) {
	if p == nil {
		return
	}
	for _, cmd := range p.Cmds {
		for _, arg := range cmd.Args {
			c.arg(arg, rootDot)
		}
	}
}

func (c *sourceChecker) arg(n parse.Node, rootDot bool) {
	switch n := n.(type) {
	case *parse.FieldNode:
		if rootDot {
			c.field(n, n.Ident[0])
		}
	case *parse.VariableNode:
		if n.Ident[0] == "$" && len(n.Ident) > 1 {
			c.field(n, n.Ident[1])
		}
	case *parse.ChainNode:
		// (.).Event.Reason
		if p, ok := n.Node.(*parse.PipeNode); ok && isDot(p) && rootDot && len(n.Field) > 0 {
			c.field(n, n.Field[0])
		}
		c.arg(n.Node, rootDot)
	case *parse.PipeNode:
		c.pipe(n, rootDot)
	}
}

// isDot says whether a pipeline is just . or $, which leaves dot the data.
func isDot(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.DotNode:
		return true
	case *parse.VariableNode:
		return len(a.Ident) == 1 && a.Ident[0] == "$"
	}
	return false
}
