// Package notify delivers the answer of a query an AgentTrigger created to the
// trigger's notify targets: a generic JSON webhook and a Slack-compatible incoming
// webhook. Their URLs and tokens are read from Secrets as the trigger's requester, so a
// trigger can only use Secrets its author may read.
package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// Message is a finished query's answer, as delivered to every target.
type Message struct {
	// Trigger is the AgentTrigger's name.
	Trigger string
	// Namespace of the trigger and its query.
	Namespace string
	// Query is the AgentQuery's name.
	Query string
	// Phase is the query's terminal phase: Succeeded, Failed or Cancelled.
	Phase agentsv1alpha1.QueryPhase
	// Summary is the first line of the answer (or of the failure).
	Summary string
	// Answer is the agent's answer, in markdown.
	Answer string
	// Source says, for people, what fired the trigger, for example
	// "event BackOff on pod/checkout-1" or "schedule 0 * * * *".
	Source string
	// InvolvedObject is "kind/name" of the object the query is about, if any.
	InvolvedObject string
	// Requester is the username the query ran as.
	Requester string
	// Resolved marks a follow-up saying that the alert group that fired the query
	// has resolved.
	Resolved bool
	// Time is when the query finished (or when the alert resolved).
	Time time.Time
}

// The JSON webhook document's version and kind. A change that is not backwards
// compatible for receivers (a field removed or its meaning changed) needs a new version.
const (
	DocumentVersion = "kubeask.dev/v1"
	DocumentKind    = "AgentTriggerResult"
)

// Document is the JSON body the generic webhook receives (docs/triggers.md describes
// it from this type). Every field is always present except those marked omitempty.
type Document struct {
	// Version is DocumentVersion.
	Version string `json:"version"`
	// Kind is DocumentKind.
	Kind string `json:"kind"`
	// Trigger is the AgentTrigger's name.
	Trigger string `json:"trigger"`
	// Namespace of the trigger and the query.
	Namespace string `json:"namespace"`
	// Query is the AgentQuery's name.
	Query string `json:"query"`
	// Phase is Succeeded, Failed or Cancelled.
	Phase string `json:"phase"`
	// Summary is the first line of the answer or of the failure.
	Summary string `json:"summary"`
	// Answer is the full answer in markdown (at most 64 KiB, as in the query's status).
	Answer string `json:"answer"`
	// Source says what fired the trigger, for people.
	Source string `json:"source"`
	// InvolvedObject is "kind/name" of the object the query is about, when there is one.
	InvolvedObject string `json:"involvedObject,omitempty"`
	// Requester is the username the query ran as.
	Requester string `json:"requester"`
	// Resolved is true for a follow-up saying the alert group resolved.
	Resolved bool `json:"resolved"`
	// Time is when the query finished (or the alert resolved), RFC 3339 in UTC.
	Time string `json:"time"`
}

// NewDocument returns the webhook document for msg.
func NewDocument(msg Message) Document {
	return Document{
		Version:        DocumentVersion,
		Kind:           DocumentKind,
		Trigger:        msg.Trigger,
		Namespace:      msg.Namespace,
		Query:          msg.Query,
		Phase:          string(msg.Phase),
		Summary:        msg.Summary,
		Answer:         msg.Answer,
		Source:         msg.Source,
		InvolvedObject: msg.InvolvedObject,
		Requester:      msg.Requester,
		Resolved:       msg.Resolved,
		Time:           msg.Time.UTC().Format(time.RFC3339),
	}
}

// SlackPayload is the body of a Slack-compatible incoming webhook (Slack, Mattermost,
// Rocket.Chat and others accept {"text": ...} with mrkdwn).
type SlackPayload struct {
	Text string `json:"text"`
}

// SlackTextLimit caps the text posted to Slack, in characters. Slack truncates
// messages above 40,000 characters and advises staying under 4,000; an answer longer
// than a screen is better read with kubectl anyway.
const SlackTextLimit = 3000

// NewSlackPayload returns the Slack message for msg: a header saying what happened,
// then the answer converted to mrkdwn, cut to SlackTextLimit.
func NewSlackPayload(msg Message) SlackPayload {
	var b strings.Builder
	ref := slackEscape(msg.Namespace + "/" + msg.Query)
	if msg.Resolved {
		fmt.Fprintf(&b, ":large_green_circle: *Resolved* · trigger %s", slackEscape(msg.Namespace+"/"+msg.Trigger))
	} else {
		fmt.Fprintf(&b, "%s *%s* · trigger %s", phaseEmoji(msg.Phase), slackEscape(string(msg.Phase)),
			slackEscape(msg.Namespace+"/"+msg.Trigger))
	}
	if msg.Source != "" {
		fmt.Fprintf(&b, "\n*Source:* %s", slackEscape(msg.Source))
	}
	if msg.InvolvedObject != "" {
		fmt.Fprintf(&b, "\n*Object:* %s", slackEscape(msg.InvolvedObject))
	}
	fmt.Fprintf(&b, "\n*Query:* %s", ref)
	if msg.Requester != "" {
		fmt.Fprintf(&b, " as %s", slackEscape(msg.Requester))
	}
	if msg.Summary != "" {
		fmt.Fprintf(&b, "\n*Summary:* %s", slackEscape(msg.Summary))
	}
	if answer := strings.TrimSpace(msg.Answer); answer != "" {
		b.WriteString("\n\n")
		b.WriteString(mrkdwn(answer))
	}
	suffix := fmt.Sprintf("… (truncated, see kubectl ask get %s -n %s)", slackEscape(msg.Query), slackEscape(msg.Namespace))
	return SlackPayload{Text: truncateSlack(b.String(), SlackTextLimit, suffix)}
}

func phaseEmoji(p agentsv1alpha1.QueryPhase) string {
	switch p {
	case agentsv1alpha1.QuerySucceeded:
		return ":white_check_mark:"
	case agentsv1alpha1.QueryFailed:
		return ":x:"
	default:
		return ":no_entry_sign:"
	}
}

// slackEscape escapes the three characters Slack gives a meaning in text, and only
// those: Slack decodes no other entity
// (https://api.slack.com/reference/surfaces/formatting#escaping). Escaping < also
// keeps an answer, which may quote cluster content anyone could write (an event's
// message, a label), from pinging <!channel> or posting a disguised <url|link>.
func slackEscape(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mrkdwn converts the markdown the agent writes into Slack's mrkdwn where the two
// differ in ways that make a message hard to read: headings become bold lines, **bold**
// becomes *bold*, and "* " or "- " list items become bullets. Code (fenced blocks and
// `spans`) is left as it is, apart from escaping.
func mrkdwn(md string) string {
	lines := strings.Split(md, "\n")
	inFence := false
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			inFence = !inFence
			lines[i] = slackEscape(line)
			continue
		}
		if inFence {
			lines[i] = slackEscape(line)
			continue
		}
		if h, ok := heading(trimmed); ok {
			lines[i] = "*" + convertInline(h) + "*"
			continue
		}
		indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
		rest := line[len(indent):]
		if strings.HasPrefix(rest, "* ") || strings.HasPrefix(rest, "- ") {
			rest = "• " + rest[2:]
		}
		lines[i] = indent + convertInline(rest)
	}
	return strings.Join(lines, "\n")
}

// heading returns the text of an ATX heading line ("## Causes").
func heading(line string) (string, bool) {
	level := len(line) - len(strings.TrimLeft(line, "#"))
	if level == 0 || level > 6 || len(line) == level || line[level] != ' ' {
		return "", false
	}
	text := strings.TrimSpace(strings.TrimRight(strings.TrimSpace(line[level:]), "#"))
	// "# **Title**" would otherwise become "***Title***".
	text = strings.TrimSuffix(strings.TrimPrefix(text, "**"), "**")
	return text, text != ""
}

// convertInline escapes a line and turns **bold** into *bold* outside `code spans`.
func convertInline(line string) string {
	parts := strings.Split(line, "`")
	for i, p := range parts {
		p = slackEscape(p)
		// Even parts are outside code spans; an unclosed backtick leaves the rest as text.
		if i%2 == 0 || i == len(parts)-1 {
			p = strings.ReplaceAll(p, "**", "*")
		}
		parts[i] = p
	}
	return strings.Join(parts, "`")
}

// truncateSlack cuts text to at most limit characters, ending it with suffix. It
// never cuts an escape such as &amp; in half, prefers cutting at a line break, and
// closes a code block it cut open so that the suffix is not shown as code.
func truncateSlack(text string, limit int, suffix string) string {
	if utf8.RuneCountInString(text) <= limit {
		return text
	}
	const fence = "\n```"
	cut := firstRunes(text, limit-utf8.RuneCountInString(suffix)-utf8.RuneCountInString(fence)-1)
	// An escape is at most five bytes (&amp;); an '&' near the end without its ';'
	// is a cut escape.
	if amp := strings.LastIndexByte(cut, '&'); amp >= 0 && amp >= len(cut)-4 && !strings.Contains(cut[amp:], ";") {
		cut = cut[:amp]
	}
	if nl := strings.LastIndexByte(cut, '\n'); nl > 0 && len(cut)-nl < 300 {
		cut = cut[:nl]
	}
	cut = strings.TrimRight(cut, " \t\n")
	if strings.Count(cut, "```")%2 == 1 {
		cut += fence
	}
	return cut + "\n" + suffix
}

// firstRunes returns the first n characters of s.
func firstRunes(s string, n int) string {
	for i := range s {
		if n <= 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// encodeJSON marshals v without Go's HTML escaping of <, > and &: the bodies go to
// webhooks, not into HTML, and a receiver logging them should see the text as written.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
