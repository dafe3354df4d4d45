// Package prompt renders the prompt of the queries an AgentTrigger creates: a Go
// text/template over what fired the trigger.
//
// # Data model
//
// Every prompt sees:
//
//	.Trigger    the AgentTrigger's name
//	.Namespace  the namespace of what fired: the event's namespace, else the trigger's
//	.Time       when the trigger fired (for a schedule, the scheduled time), a time.Time
//	.Source     "schedule", "event" or "alert"
//
// An event trigger also sees the event, both flat and in full:
//
//	.Object .Kind .Name        "pod/checkout-7d9f", "Pod", "checkout-7d9f"
//	.Reason .Message .Type .Count
//	.Event.Reason .Event.Message .Event.Type .Event.Count .Event.FirstTime
//	.Event.LastTime .Event.Component
//	.Event.Object.APIVersion .Event.Object.Kind .Event.Object.Namespace .Event.Object.Name
//
// An alert trigger sees the Alertmanager notification (its webhook payload):
//
//	.Alert.Status (firing or resolved) .Alert.GroupKey .Alert.Receiver .Alert.ExternalURL
//	.Alert.GroupLabels .Alert.CommonLabels .Alert.CommonAnnotations (maps)
//	.Alert.TruncatedAlerts
//	.Alerts (same as .Alert.Alerts), each with .Status .Labels .Annotations .StartsAt
//	.EndsAt .GeneratorURL .Fingerprint
//
// A scheduled trigger sees .Schedule.Cron, .Schedule.TimeZone and .Schedule.ScheduledTime.
//
// A prompt may only use the fields of its trigger's source: Validate refuses .Event in
// a scheduled trigger, for example. A label or annotation that an alert lacks reads as
// "" (`{{.Alert.CommonLabels.team}}`, or `{{index .Alert.CommonLabels "team"}}` for
// keys that are not identifiers).
//
// # Functions
//
// Besides text/template's builtins (and, or, not, eq, ne, lt, le, gt, ge, len, index,
// slice, print, printf, println, html, js, urlquery), prompts may use a few pure string
// functions: quote, truncate N, join SEP, lower, upper, trim and default D. Nothing can
// read files, the environment or the network, and define, template, block and call
// are refused.
//
// # Untrusted values
//
// Event messages and alert annotations are written by whoever can create events or
// alert rules. Render strips their control characters, cuts each value to 2 KiB, keeps
// at most 64 entries of a map and 32 alerts (and says so at the end of the prompt), and
// never evaluates a value as a template.
//
// # Bounded work
//
// The template's author is trusted no more than the values: the prompt is cut at
// agentsv1alpha1.MaxPromptLength (the writer stops the template there), range loops
// have a budget of steps (iterations times the size of the loop's body) and may not
// range over a number, the functions' results have a budget of bytes, and printf
// widths are at most 1000. So a rendering takes at most a fraction of a second.
package prompt

import (
	"strings"
	"time"
)

// The sources of a trigger, as in Data.Source.
const (
	SourceSchedule = "schedule"
	SourceEvent    = "event"
	SourceAlert    = "alert"
)

// Data is what a prompt template is rendered over. The field names are part of the
// API (docs/triggers.md documents them); add fields, never rename them.
type Data struct {
	// Trigger is the AgentTrigger's name.
	Trigger string
	// Namespace is the namespace of what fired: the event's namespace, else the trigger's.
	Namespace string
	// Time is when the trigger fired; for a schedule, the scheduled time.
	Time time.Time
	// Source is SourceSchedule, SourceEvent or SourceAlert.
	Source string

	// Object is "kind/name" of the event's involved object, kind in lower case, as
	// kubectl prints it ("pod/checkout-7d9f"). Render fills Object, Kind, Name,
	// Reason, Message, Type and Count from Event when they are empty.
	Object string
	// Kind is the involved object's kind ("Pod").
	Kind string
	// Name is the involved object's name.
	Name string
	// Reason is the event's reason ("BackOff").
	Reason string
	// Message is the event's message.
	Message string
	// Type is the event's type ("Warning").
	Type string
	// Count is how many times the event happened.
	Count int32
	// Event is the event, for event triggers; nil otherwise.
	Event *Event

	// Alert is the Alertmanager notification, for alert triggers; nil otherwise.
	Alert *AlertGroup
	// Alerts is Alert.Alerts; Render fills it when it is empty.
	Alerts []Alert

	// Schedule is the schedule, for scheduled triggers; nil otherwise.
	Schedule *Schedule
}

// Event is a Kubernetes Event.
type Event struct {
	Reason    string
	Message   string
	Type      string
	Count     int32
	FirstTime time.Time
	LastTime  time.Time
	// Component is the event's reporting component ("kubelet").
	Component string
	// Object is the event's involved object.
	Object ObjectRef
}

// ObjectRef names a Kubernetes object.
type ObjectRef struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
}

// AlertGroup is an Alertmanager webhook notification: a group of alerts.
type AlertGroup struct {
	// Status is "firing" or "resolved".
	Status            string
	GroupKey          string
	Receiver          string
	ExternalURL       string
	GroupLabels       map[string]string
	CommonLabels      map[string]string
	CommonAnnotations map[string]string
	Alerts            []Alert
	// TruncatedAlerts is how many alerts Alertmanager (max_alerts) or Render left out.
	TruncatedAlerts int
}

// Alert is one alert of a group.
type Alert struct {
	// Status is "firing" or "resolved".
	Status       string
	Labels       map[string]string
	Annotations  map[string]string
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
	Fingerprint  string
}

// Schedule is the schedule of a scheduled trigger.
type Schedule struct {
	Cron     string
	TimeZone string
	// ScheduledTime is the run's scheduled time, which can be earlier than the time
	// the query was created when the operator was down.
	ScheduledTime time.Time
}

// ObjectString is how Data.Object names an object: "pod/checkout-7d9f".
func ObjectString(kind, name string) string {
	if kind == "" {
		return name
	}
	return strings.ToLower(kind) + "/" + name
}
