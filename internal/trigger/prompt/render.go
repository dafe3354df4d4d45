package prompt

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// Bounds on the untrusted values a prompt is rendered over.
const (
	// MaxValueBytes bounds each string of the data (valid UTF-8, cut mark included).
	MaxValueBytes = 2048
	// MaxMapEntries bounds each map of labels or annotations (the first keys in order
	// are kept).
	MaxMapEntries = 64
	// MaxAlerts bounds the alerts of a group (the first ones are kept).
	MaxAlerts = 32
)

// cutMark ends a value that was cut.
const cutMark = "…[cut]"

// outputFull stops the template once the prompt is as long as it may be.
type outputFull struct{}

func (outputFull) Error() string { return "prompt output limit reached" }

// emptyPromptError is the error of a prompt that renders to nothing but space.
type emptyPromptError struct{}

func (emptyPromptError) Error() string {
	return "the prompt renders to empty text; it must ask something"
}

// Render renders the prompt over d. Every string of d is cleaned first (control
// characters other than newline and tab removed, each value cut to MaxValueBytes, maps
// and alerts bounded) and a note at the end of the prompt says what was cut. The
// result is at most agentsv1alpha1.MaxPromptLength bytes of valid UTF-8, without
// leading or trailing space; a prompt that renders to nothing is an error. A label or
// annotation an alert lacks reads as "", as in Alertmanager's own templates: one alert
// without a label must not stop the trigger.
func (t *Template) Render(d Data) (string, error) {
	return t.render(d, true)
}

// render renders; lenientMaps reads a missing map key as "" (Validate's sample data
// cannot have every label a real alert has) instead of failing.
func (t *Template) render(d Data, lenientMaps bool) (string, error) {
	var c cuts
	clean := c.data(d)

	tmpl, err := t.tmpl.Clone()
	if err != nil {
		return "", fmt.Errorf("cloning the prompt template: %w", err)
	}
	tmpl.Funcs(renderFuncs(newBudget()))
	if lenientMaps {
		tmpl.Option("missingkey=zero")
	}

	limit := agentsv1alpha1.MaxPromptLength
	w := &cappedWriter{limit: limit}
	if err := tmpl.Execute(w, clean); err != nil && !errors.Is(err, outputFull{}) {
		return "", explain(err)
	}
	body := strings.TrimSpace(strings.ToValidUTF8(string(w.buf), "\uFFFD"))
	if body == "" {
		return "", emptyPromptError{}
	}
	note := c.note(false)
	if w.full || len(body)+len(note) > limit {
		note = c.note(true)
		body = strings.TrimSpace(cutUTF8(body, limit-len(note)))
	}
	return body + note, nil
}

// explain adds a hint to the errors that text/template words for Go programmers.
func explain(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "can't evaluate field"):
		return fmt.Errorf("rendering the prompt: %w (see the data model in docs/triggers.md)", err)
	case strings.Contains(msg, "map has no entry for key"):
		return fmt.Errorf("rendering the prompt: %w (use index, as in {{index .Alert.CommonLabels \"team\"}}, for a key that may be missing)", err)
	}
	return fmt.Errorf("rendering the prompt: %w", err)
}

// cappedWriter keeps up to limit bytes and then fails, which stops the template.
type cappedWriter struct {
	buf   []byte
	limit int
	full  bool
}

func (w *cappedWriter) Write(p []byte) (int, error) {
	room := w.limit - len(w.buf)
	if len(p) > room {
		w.buf = append(w.buf, p[:room]...)
		w.full = true
		return room, outputFull{}
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// cuts counts what cleaning cut, for the note at the end of the prompt.
type cuts struct {
	values, maps       int
	alertsLeft, alerts int
	// long remembers the values that were cut, so a value given twice (as .Message
	// and .Event.Message) is counted once.
	long map[string]string
}

// note says what was cut, or "" if nothing was; promptCut adds that the prompt itself
// was cut to its maximum length.
func (c *cuts) note(promptCut bool) string {
	var parts []string
	if c.values > 0 {
		parts = append(parts, fmt.Sprintf("%d value(s) were cut to %d bytes", c.values, MaxValueBytes))
	}
	if c.maps > 0 {
		parts = append(parts, fmt.Sprintf("%d label or annotation map(s) were cut to %d entries", c.maps, MaxMapEntries))
	}
	if c.alertsLeft > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d alerts were left out", c.alertsLeft, c.alerts))
	}
	if promptCut {
		parts = append(parts, fmt.Sprintf("the prompt was cut to %d bytes", agentsv1alpha1.MaxPromptLength))
	}
	if len(parts) == 0 {
		return ""
	}
	return "\n\n[Note from kubeask: " + strings.Join(parts, "; ") + ".]"
}

// data returns a cleaned copy of d, sharing nothing with it, with the shortcuts filled.
func (c *cuts) data(d Data) Data {
	out := Data{
		Trigger:   c.str(d.Trigger),
		Namespace: c.str(d.Namespace),
		Time:      d.Time,
		Source:    c.str(d.Source),
		Object:    c.str(d.Object),
		Kind:      c.str(d.Kind),
		Name:      c.str(d.Name),
		Reason:    c.str(d.Reason),
		Message:   c.str(d.Message),
		Type:      c.str(d.Type),
		Count:     d.Count,
	}
	if e := d.Event; e != nil {
		out.Event = &Event{
			Reason: c.str(e.Reason), Message: c.str(e.Message), Type: c.str(e.Type), Count: e.Count,
			FirstTime: e.FirstTime, LastTime: e.LastTime, Component: c.str(e.Component),
			Object: ObjectRef{APIVersion: c.str(e.Object.APIVersion), Kind: c.str(e.Object.Kind),
				Namespace: c.str(e.Object.Namespace), Name: c.str(e.Object.Name)},
		}
		fill := func(dst *string, v string) {
			if *dst == "" {
				*dst = v
			}
		}
		fill(&out.Object, ObjectString(out.Event.Object.Kind, out.Event.Object.Name))
		fill(&out.Kind, out.Event.Object.Kind)
		fill(&out.Name, out.Event.Object.Name)
		fill(&out.Reason, out.Event.Reason)
		fill(&out.Message, out.Event.Message)
		fill(&out.Type, out.Event.Type)
		if out.Count == 0 {
			out.Count = out.Event.Count
		}
	}
	if g := d.Alert; g != nil {
		out.Alert = &AlertGroup{
			Status: c.str(g.Status), GroupKey: c.str(g.GroupKey), Receiver: c.str(g.Receiver),
			ExternalURL: c.str(g.ExternalURL), GroupLabels: c.labels(g.GroupLabels),
			CommonLabels: c.labels(g.CommonLabels), CommonAnnotations: c.labels(g.CommonAnnotations),
			TruncatedAlerts: g.TruncatedAlerts,
		}
		var left int
		out.Alert.Alerts, left = c.alertList(g.Alerts)
		out.Alert.TruncatedAlerts += left
	}
	switch {
	case out.Alert != nil && (len(d.Alerts) == 0 || sameAlerts(d.Alerts, d.Alert.Alerts)):
		out.Alerts = out.Alert.Alerts
	case len(d.Alerts) > 0:
		out.Alerts, _ = c.alertList(d.Alerts)
	}
	if s := d.Schedule; s != nil {
		out.Schedule = &Schedule{Cron: c.str(s.Cron), TimeZone: c.str(s.TimeZone), ScheduledTime: s.ScheduledTime}
	}
	return out
}

// sameAlerts says whether a and b are the same slice (the engine may set both
// Data.Alerts and Data.Alert.Alerts), so it is cleaned, and counted, once.
func sameAlerts(a, b []Alert) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// alertList cleans the first MaxAlerts alerts and says how many were left out.
func (c *cuts) alertList(alerts []Alert) ([]Alert, int) {
	if alerts == nil {
		return nil, 0
	}
	kept := alerts[:min(len(alerts), MaxAlerts)]
	left := len(alerts) - len(kept)
	if left > 0 {
		c.alertsLeft += left
		c.alerts += len(alerts)
	}
	out := make([]Alert, 0, len(kept))
	for _, a := range kept {
		out = append(out, Alert{
			Status: c.str(a.Status), Labels: c.labels(a.Labels), Annotations: c.labels(a.Annotations),
			StartsAt: a.StartsAt, EndsAt: a.EndsAt, GeneratorURL: c.str(a.GeneratorURL), Fingerprint: c.str(a.Fingerprint),
		})
	}
	return out, left
}

// labels cleans the first MaxMapEntries entries of m, by key order so the cut is
// the same every time.
func (c *cuts) labels(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	keys := slices.Sorted(maps.Keys(m))
	if len(keys) > MaxMapEntries {
		keys = keys[:MaxMapEntries]
		c.maps++
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		out[c.str(k)] = c.str(m[k])
	}
	return out
}

// str cleans one value: control characters other than newline and tab and Unicode
// bidirectional controls (which can make text read differently from what it says)
// are removed, invalid UTF-8 becomes U+FFFD, and the value is cut to MaxValueBytes.
func (c *cuts) str(s string) string {
	if cut, ok := c.long[s]; ok {
		return cut
	}
	clean := stripControls(s)
	if len(clean) <= MaxValueBytes {
		return clean
	}
	cut := cutUTF8(clean, MaxValueBytes-len(cutMark)) + cutMark
	if c.long == nil {
		c.long = map[string]string{}
	}
	c.long[s] = cut
	c.values++
	return cut
}

func stripControls(s string) string {
	clean := true
	for _, b := range []byte(s) {
		if b < 0x20 && b != '\n' && b != '\t' || b >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s { // an invalid byte comes as utf8.RuneError, U+FFFD
		if r == '\n' || r == '\t' || !unicode.IsControl(r) && !unicode.Is(unicode.Bidi_Control, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cutUTF8 returns the longest prefix of s of at most n bytes that does not split a
// character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
