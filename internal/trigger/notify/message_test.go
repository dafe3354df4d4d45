package notify_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/trigger/notify"
)

func TestDocumentFormat(t *testing.T) {
	resolved := sampleMessage()
	resolved.Resolved = true
	resolved.InvolvedObject = ""
	resolved.Answer = ""
	resolved.Source = `alert group {alertname="KubePodCrashLooping"}`
	tests := []struct {
		name string
		msg  notify.Message
		want string
	}{{
		name: "answer",
		msg:  sampleMessage(),
		want: `{
			"version": "kubeask.dev/v1",
			"kind": "AgentTriggerResult",
			"trigger": "crashloops",
			"namespace": "shop",
			"query": "crashloops-29871234",
			"phase": "Succeeded",
			"summary": "checkout-1 runs out of memory at startup",
			"answer": "## Cause\nThe container is **OOMKilled**: its limit is 64Mi.",
			"source": "event BackOff on pod/checkout-1",
			"involvedObject": "pod/checkout-1",
			"requester": "alice",
			"resolved": false,
			"time": "2030-01-02T02:04:05Z"
		}`,
	}, {
		name: "resolved alert without an object",
		msg:  resolved,
		want: `{
			"version": "kubeask.dev/v1",
			"kind": "AgentTriggerResult",
			"trigger": "crashloops",
			"namespace": "shop",
			"query": "crashloops-29871234",
			"phase": "Succeeded",
			"summary": "checkout-1 runs out of memory at startup",
			"answer": "",
			"source": "alert group {alertname=\"KubePodCrashLooping\"}",
			"requester": "alice",
			"resolved": true,
			"time": "2030-01-02T02:04:05Z"
		}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(notify.NewDocument(tt.msg))
			if err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, got, []byte(tt.want))
		})
	}
}

func assertSameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestSlackText(t *testing.T) {
	with := func(f func(*notify.Message)) notify.Message {
		m := sampleMessage()
		f(&m)
		return m
	}
	tests := []struct {
		name string
		msg  notify.Message
		want string
	}{{
		name: "succeeded",
		msg:  sampleMessage(),
		want: ":white_check_mark: *Succeeded* · trigger shop/crashloops\n" +
			"*Source:* event BackOff on pod/checkout-1\n" +
			"*Object:* pod/checkout-1\n" +
			"*Query:* shop/crashloops-29871234 as alice\n" +
			"*Summary:* checkout-1 runs out of memory at startup\n\n" +
			"*Cause*\nThe container is *OOMKilled*: its limit is 64Mi.",
	}, {
		name: "failed, no object, no answer",
		msg: with(func(m *notify.Message) {
			m.Phase, m.InvolvedObject, m.Answer, m.Source = agentsv1alpha1.QueryFailed, "", "", "schedule 0 * * * *"
		}),
		want: ":x: *Failed* · trigger shop/crashloops\n" +
			"*Source:* schedule 0 * * * *\n" +
			"*Query:* shop/crashloops-29871234 as alice\n" +
			"*Summary:* checkout-1 runs out of memory at startup",
	}, {
		name: "cancelled",
		msg: with(func(m *notify.Message) {
			m.Phase, m.Answer, m.Summary, m.Source, m.InvolvedObject = agentsv1alpha1.QueryCancelled, "", "", "", ""
		}),
		want: ":no_entry_sign: *Cancelled* · trigger shop/crashloops\n*Query:* shop/crashloops-29871234 as alice",
	}, {
		name: "resolved",
		msg: with(func(m *notify.Message) {
			m.Resolved, m.Answer, m.InvolvedObject, m.Summary = true, "", "", ""
			m.Source = `alert group {alertname="X", severity=~"warn|crit"}`
		}),
		want: ":large_green_circle: *Resolved* · trigger shop/crashloops\n" +
			"*Source:* alert group {alertname=\"X\", severity=~\"warn|crit\"}\n" +
			"*Query:* shop/crashloops-29871234 as alice",
	}, {
		// An event message is written by whoever runs the pod: it must not ping the
		// channel or post a disguised link.
		name: "escaping",
		msg: with(func(m *notify.Message) {
			m.Source, m.InvolvedObject, m.Requester = "event Failed on pod/a", "", ""
			m.Summary = "R&D <b> broke"
			m.Answer = "<!channel> see <https://evil.example|the docs> & a -> b"
		}),
		want: ":white_check_mark: *Succeeded* · trigger shop/crashloops\n" +
			"*Source:* event Failed on pod/a\n" +
			"*Query:* shop/crashloops-29871234\n" +
			"*Summary:* R&amp;D &lt;b&gt; broke\n\n" +
			"&lt;!channel&gt; see &lt;https://evil.example|the docs&gt; &amp; a -&gt; b",
	}, {
		name: "markdown to mrkdwn, code untouched but escaped",
		msg: with(func(m *notify.Message) {
			m.Source, m.InvolvedObject, m.Requester, m.Summary = "", "", "", ""
			m.Answer = "# **Findings** #\n" +
				"**OOM** in `a**b` and **x**\n" +
				"* first\n" +
				"  - nested\n" +
				"#hashtag stays\n" +
				"```yaml\n" +
				"# a comment **kept**\n" +
				"- item: <x> & y\n" +
				"```\n" +
				"after **code**"
		}),
		want: ":white_check_mark: *Succeeded* · trigger shop/crashloops\n" +
			"*Query:* shop/crashloops-29871234\n\n" +
			"*Findings*\n" +
			"*OOM* in `a**b` and *x*\n" +
			"• first\n" +
			"  • nested\n" +
			"#hashtag stays\n" +
			"```yaml\n" +
			"# a comment **kept**\n" +
			"- item: &lt;x&gt; &amp; y\n" +
			"```\n" +
			"after *code*",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := notify.NewSlackPayload(tt.msg).Text; got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestSlackTextIsTruncated(t *testing.T) {
	tests := []struct {
		name   string
		answer string
	}{
		{"escapes", strings.Repeat("a & <b> ", 2000)},
		{"one long line", strings.Repeat("x", 10000)},
		{"multibyte", strings.Repeat("é€😀", 3000)},
		{"open code block", "Logs:\n```\n" + strings.Repeat("line <1>\n", 1000) + "```\nend"},
		{"lines", strings.Repeat("a fairly ordinary line of an answer\n", 300)},
	}
	const suffix = "… (truncated, see kubectl ask get crashloops-29871234 -n shop)"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sampleMessage()
			m.Answer = tt.answer
			text := notify.NewSlackPayload(m).Text
			if n := utf8.RuneCountInString(text); n > notify.SlackTextLimit {
				t.Errorf("%d characters, more than %d", n, notify.SlackTextLimit)
			}
			if n := utf8.RuneCountInString(text); n < notify.SlackTextLimit-400 {
				t.Errorf("only %d characters kept", n)
			}
			if !utf8.ValidString(text) {
				t.Error("invalid UTF-8")
			}
			if !strings.HasPrefix(text, ":white_check_mark: *Succeeded* · trigger shop/crashloops\n") {
				t.Errorf("header lost: %.200s", text)
			}
			if !strings.HasSuffix(text, "\n"+suffix) {
				t.Errorf("no truncation note at the end: ...%s", text[len(text)-200:])
			}
			// Every & starts a whole escape: none was cut in half.
			bare := strings.NewReplacer("&amp;", "", "&lt;", "", "&gt;", "").Replace(text)
			if strings.Contains(bare, "&") {
				t.Errorf("a cut escape: ...%s", text[len(text)-200:])
			}
			if strings.Count(text, "```")%2 != 0 {
				t.Errorf("a code block left open: ...%s", text[len(text)-200:])
			}
		})
	}
	short := sampleMessage()
	if strings.Contains(notify.NewSlackPayload(short).Text, "truncated") {
		t.Error("a short answer was marked as truncated")
	}
}

func TestResultError(t *testing.T) {
	long := strings.Repeat("é", 400) // 800 bytes
	tests := []struct {
		name      string
		result    notify.Result
		delivered bool
		want      string
	}{
		{"no targets", notify.Result{}, true, ""},
		{"all delivered", notify.Result{Targets: []notify.TargetResult{{Target: "webhook", Attempts: 1}, {Target: "slack", Attempts: 2}}}, true, ""},
		{"one failed", notify.Result{Targets: []notify.TargetResult{
			{Target: "webhook", Attempts: 1, Error: "the receiver answered 400 Bad Request"},
			{Target: "slack", Attempts: 1},
		}}, false, "webhook: the receiver answered 400 Bad Request"},
		{"both failed", notify.Result{Targets: []notify.TargetResult{
			{Target: "webhook", Error: "a"}, {Target: "slack", Error: "b"},
		}}, false, "webhook: a; slack: b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.result.Delivered(); got != tt.delivered {
				t.Errorf("Delivered() = %v", got)
			}
			if got := tt.result.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("capped", func(t *testing.T) {
		r := notify.Result{Targets: []notify.TargetResult{{Target: "webhook", Error: long}, {Target: "slack", Error: long}}}
		got := r.Error()
		if len(got) > notify.MaxErrorLen || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
			t.Errorf("%d bytes, valid UTF-8 %v: ...%s", len(got), utf8.ValidString(got), got[len(got)-20:])
		}
	})
}
