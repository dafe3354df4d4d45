package prompt

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

func mustParse(t *testing.T, text string) *Template {
	t.Helper()
	tmpl, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func mustSample(t *testing.T, source string) Data {
	t.Helper()
	d, err := Sample(source)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRenderEachSource(t *testing.T) {
	cases := []struct {
		source, text, want string
	}{
		{SourceSchedule,
			`Weekly check of namespace {{.Namespace}} ({{.Trigger}}, {{.Schedule.Cron}} {{.Schedule.TimeZone}}, run of {{.Schedule.ScheduledTime.Format "2006-01-02 15:04"}}): anything unhealthy?`,
			`Weekly check of namespace shop (weekday-health-check, 0 9 * * 1-5 Europe/Paris, run of 2025-06-02 09:00): anything unhealthy?`},
		{SourceEvent,
			"{{.Type}} event on {{.Object}} in {{.Namespace}}: {{.Reason}} ({{.Count}} times, by {{.Event.Component}} since {{.Event.FirstTime.Format \"15:04\"}}).\n{{.Message | quote}}\nWhy?",
			"Warning event on pod/checkout-7d9f4b6c8-x2x7q in shop: BackOff (12 times, by kubelet since 08:30).\n\"Back-off restarting failed container checkout in pod checkout-7d9f4b6c8-x2x7q_shop(5b0c1f2e-8c3d-4e0a-9a57-2f1f0a6a1c11)\"\nWhy?"},
		{SourceEvent,
			`{{.Event.Object.APIVersion}} {{.Event.Object.Kind}} {{.Event.Object.Namespace}}/{{.Event.Object.Name}} {{.Event.Reason}} {{.Event.Type}} {{.Event.Count}} {{.Event.LastTime.Format "15:04"}} {{.Kind}} {{.Name}}`,
			`v1 Pod shop/checkout-7d9f4b6c8-x2x7q BackOff Warning 12 09:00 Pod checkout-7d9f4b6c8-x2x7q`},
		{SourceAlert,
			"{{.Alert.Status}} {{.Alert.CommonLabels.alertname}} ({{len .Alerts}} alerts, {{index .Alert.CommonLabels \"team\" | default \"no team\"}}): {{.Alert.CommonAnnotations.summary}}\n{{range .Alerts}}- {{.Labels.pod}} since {{.StartsAt.Format \"15:04\"}}: {{.Annotations.description}}\n{{end}}{{.Alert.Receiver}} {{.Alert.GroupLabels.alertname}} {{.Alert.TruncatedAlerts}}",
			"firing KubePodCrashLooping (2 alerts, no team): Pod is crash looping.\n- checkout-7d9f4b6c8-x2x7q since 08:45: Pod shop/checkout-7d9f4b6c8-x2x7q (checkout) is in waiting state (reason: CrashLoopBackOff).\n- checkout-7d9f4b6c8-p9k2m since 08:45: Pod shop/checkout-7d9f4b6c8-p9k2m (checkout) is in waiting state (reason: CrashLoopBackOff).\nkubeask KubePodCrashLooping 0"},
	}
	for _, tc := range cases {
		t.Run(tc.source, func(t *testing.T) {
			if err := Validate(tc.text, tc.source); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			got, err := mustParse(t, tc.text).Render(mustSample(t, tc.source))
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got != tc.want {
				t.Errorf("Render =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestShortcuts: the engine may set only Event or only Alert; Render fills the flat
// fields, and leaves the ones that were set.
func TestShortcuts(t *testing.T) {
	ev := &Event{Reason: "OOMKilling", Message: "killed", Type: "Warning", Count: 3,
		Object: ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: "db", Name: "pg"}}
	tmpl := mustParse(t, `{{.Object}}|{{.Kind}}|{{.Name}}|{{.Reason}}|{{.Message}}|{{.Type}}|{{.Count}}|{{len .Alerts}}`)
	cases := []struct {
		name string
		d    Data
		want string
	}{
		{"event only", Data{Event: ev}, "statefulset/pg|StatefulSet|pg|OOMKilling|killed|Warning|3|0"},
		{"flat fields win", Data{Event: ev, Object: "custom", Reason: "Mine", Count: 9}, "custom|StatefulSet|pg|Mine|killed|Warning|9|0"},
		{"alerts from the group", Data{Alert: &AlertGroup{Alerts: []Alert{{}, {}}}}, "||||||0|2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tmpl.Render(tc.d)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Render = %q, want %q", got, tc.want)
			}
		})
	}
	for kind, want := range map[string]string{"Pod": "pod/x", "": "x", "HorizontalPodAutoscaler": "horizontalpodautoscaler/x"} {
		if got := ObjectString(kind, "x"); got != want {
			t.Errorf("ObjectString(%q, x) = %q, want %q", kind, got, want)
		}
	}
}

func manyLabels(n int, value string) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("l%03d", i)] = value
	}
	return m
}

func TestSanitize(t *testing.T) {
	long := strings.Repeat("é", 2000) // 4000 bytes
	cases := []struct {
		name, text string
		d          Data
		want       string
	}{
		{"control characters", `{{.Message}}`,
			Data{Message: "a\x1b[31mred\x00\r\nb\tc\x7f\u0085\u202eevil\u200f\u2066d"},
			"a[31mred\nb\tcevild"},
		{"invalid UTF-8", `{{.Message}}`, Data{Message: "ok\xffok"}, "ok\uFFFDok"},
		{"keys and values of maps", `{{range $k, $v := .Alert.CommonLabels}}{{$k}}={{$v}};{{end}}`,
			Data{Alert: &AlertGroup{CommonLabels: map[string]string{"a\x00b": "c\x1bd"}}}, "ab=cd;"},
		{"a long value is cut", `{{len .Message}} {{.Message}}`,
			Data{Message: long},
			// "…[cut]" is 8 bytes, so 1020 two-byte characters fit before it.
			"2048 " + strings.Repeat("é", 1020) + "…[cut]\n\n[Note from kubeask: 1 value(s) were cut to 2048 bytes.]"},
		{"a cut never splits a character", `{{.Message}}`,
			Data{Message: "x" + long},
			"x" + strings.Repeat("é", 1019) + "…[cut]\n\n[Note from kubeask: 1 value(s) were cut to 2048 bytes.]"},
		{"a value of exactly 2 KiB is kept", `{{len .Message}}`, Data{Message: strings.Repeat("x", MaxValueBytes)}, "2048"},
		{"long values everywhere", `{{len .Event.Message}} {{len (index .Alerts 0).Annotations.d}} {{len .Schedule.Cron}}`,
			Data{Event: &Event{Message: long}, Alerts: []Alert{{Annotations: map[string]string{"d": long + "a"}}}, Schedule: &Schedule{Cron: long + "b"}},
			"2048 2048 2048\n\n[Note from kubeask: 3 value(s) were cut to 2048 bytes.]"},
		{"a value given twice is counted once", `{{len .Event.Message}} {{len .Message}}`,
			Data{Event: &Event{Message: long}, Message: long},
			"2048 2048\n\n[Note from kubeask: 1 value(s) were cut to 2048 bytes.]"},
		{"alerts given twice are counted once", `{{len .Alerts}} {{len .Alert.Alerts}}`,
			func() Data { a := make([]Alert, 33); return Data{Alert: &AlertGroup{Alerts: a}, Alerts: a} }(),
			"32 32\n\n[Note from kubeask: 1 of 33 alerts were left out.]"},
		{"a map is cut to 64 entries, the first keys kept", `{{len .Alert.CommonLabels}} {{index .Alert.CommonLabels "l063"}} {{index .Alert.CommonLabels "l064"}}.`,
			Data{Alert: &AlertGroup{CommonLabels: manyLabels(100, "v")}},
			"64 v .\n\n[Note from kubeask: 1 label or annotation map(s) were cut to 64 entries.]"},
		{"alerts are cut to 32", `{{len .Alerts}} {{len .Alert.Alerts}} {{.Alert.TruncatedAlerts}}`,
			Data{Alert: &AlertGroup{Alerts: make([]Alert, 40), TruncatedAlerts: 5}},
			"32 32 13\n\n[Note from kubeask: 8 of 40 alerts were left out.]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mustParse(t, tc.text).Render(tc.d)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Render =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// TestRenderCopies: cleaning works on a copy; the caller's data is left as it was.
func TestRenderCopies(t *testing.T) {
	labels := manyLabels(100, "v\x00")
	alerts := make([]Alert, 40)
	alerts[0].Labels = labels
	d := Data{Message: "m\x00", Alert: &AlertGroup{CommonLabels: labels, Alerts: alerts}, Alerts: alerts}
	if _, err := mustParse(t, `{{.Message}}`).Render(d); err != nil {
		t.Fatal(err)
	}
	if d.Message != "m\x00" || len(labels) != 100 || labels["l000"] != "v\x00" || len(d.Alert.Alerts) != 40 || len(d.Alerts) != 40 {
		t.Errorf("Render changed its input: %q, %d labels, %d alerts", d.Message, len(labels), len(d.Alert.Alerts))
	}
}

// TestHostileValues: values are data, never template text, whatever they contain.
func TestHostileValues(t *testing.T) {
	hostile := `{{.Trigger}} {{call .X}} {{template "x"}} {{define "y"}}{{end}} %v %!s(MISSING) }}{{`
	d := Data{
		Trigger: "t", Message: hostile, Reason: hostile,
		Alert: &AlertGroup{CommonLabels: map[string]string{hostile: hostile}},
	}
	cases := []struct{ text, want string }{
		{`{{.Message}}`, hostile},
		{`{{printf "%s" .Message}}`, hostile},
		// As a format, the value is read by fmt, not by text/template.
		{`{{printf .Message}}`, `{{.Trigger}} {{call .X}} {{template "x"}} {{define "y"}}{{end}} %!v(MISSING) %!!(MISSING)s(MISSING) }}{{`},
		{`{{range $k, $v := .Alert.CommonLabels}}{{$k}}={{$v}}{{end}}`, hostile + "=" + hostile},
		{`{{.Message | quote}}`, `"{{.Trigger}} {{call .X}} {{template \"x\"}} {{define \"y\"}}{{end}} %v %!s(MISSING) }}{{"`},
	}
	for _, tc := range cases {
		got, err := mustParse(t, tc.text).Render(d)
		if err != nil {
			t.Fatalf("%s: %v", tc.text, err)
		}
		if got != tc.want {
			t.Errorf("%s =\n%s\nwant\n%s", tc.text, got, tc.want)
		}
	}
}

func TestRenderLimits(t *testing.T) {
	limit := agentsv1alpha1.MaxPromptLength
	// 32 alerts with a 2 KiB description each are 64 KiB of output.
	big := make([]Alert, 32)
	for i := range big {
		big[i].Annotations = map[string]string{"d": strings.Repeat("ü", 1000)}
	}
	alerts := Data{Alert: &AlertGroup{Alerts: big}}
	cases := []struct {
		name, text string
		d          Data
		// wantLen is the exact length in bytes (0: do not check); wantSuffix the end.
		wantLen    int
		wantSuffix string
		wantErr    string
	}{
		{name: "cut to the maximum, on a character boundary",
			text: `{{range .Alerts}}{{.Annotations.d}}{{end}}`, d: alerts,
			wantSuffix: "ü\n\n[Note from kubeask: the prompt was cut to 16384 bytes.]"},
		{name: "the writer stops the template before a later error",
			text: `{{range .Alerts}}{{.Annotations.d}}{{end}}{{.Nope}}`, d: alerts,
			wantSuffix: "[Note from kubeask: the prompt was cut to 16384 bytes.]"},
		// 6144 bytes of text and five values of 2048 bytes are 16384 bytes.
		{name: "exactly the maximum is not cut",
			text: strings.Repeat("x", 6144) + strings.Repeat("{{.Message}}", 5),
			d:    Data{Message: strings.Repeat("y", MaxValueBytes)}, wantLen: limit, wantSuffix: "yy"},
		{name: "one byte over the maximum is cut",
			text: strings.Repeat("x", 6145) + strings.Repeat("{{.Message}}", 5),
			d:    Data{Message: strings.Repeat("y", MaxValueBytes)}, wantLen: limit, wantSuffix: "y\n\n[Note from kubeask: the prompt was cut to 16384 bytes.]"},
		{name: "notes of cut values and of the cut prompt together",
			text: `{{range .Alerts}}{{.Annotations.d}}{{end}}`, d: Data{Alert: &AlertGroup{Alerts: append(big[:32:32], make([]Alert, 8)...)}},
			wantSuffix: "[Note from kubeask: 8 of 40 alerts were left out; the prompt was cut to 16384 bytes.]"},
		{name: "range over a number", text: `{{range .Count}}{{end}}x`, d: Data{Count: 2000000000},
			wantErr: "range over a number (2000000000) is not allowed"},
		{name: "range over a number literal", text: `{{range $i := 1000000000}}{{end}}x`,
			wantErr: "range over a number (1000000000) is not allowed"},
		// 32*32*32*32 iterations of an empty body: a million, each costing 2 steps.
		{name: "nested ranges with empty bodies", text: `{{range .Alerts}}{{range $.Alerts}}{{range $.Alerts}}{{range $.Alerts}}{{end}}{{end}}{{end}}{{end}}x`, d: alerts,
			wantErr: "range loops do too much: more than 1000000 steps"},
		{name: "a loop with a big body", text: `{{range .Alerts}}{{range $.Alerts}}` + strings.Repeat(`{{$x := 1}}`, 500) + `{{end}}{{end}}x`, d: alerts,
			wantErr: "range loops do too much"},
		{name: "ranges within the budget", text: `{{range .Alerts}}{{range $.Alerts}}{{range $.Alerts}}{{end}}{{end}}{{end}}x`, d: alerts, wantSuffix: "x"},
		{name: "empty prompt", text: `{{.Message}}`, d: Data{Message: " \n "}, wantErr: "renders to empty text"},
		{name: "missing map key reads as empty", text: `team={{.Alert.CommonLabels.team}}.`, d: Data{Alert: &AlertGroup{CommonLabels: map[string]string{}}},
			wantSuffix: "team=."},
		{name: "missing field", text: `{{.Alert.Nope}}`, d: alerts,
			wantErr: `executing "prompt" at <.Alert.Nope>: can't evaluate field Nope`},
		{name: "helper misuse", text: `{{truncate -1 .Message}}`, wantErr: "truncate wants a length of 0 or more"},
		{name: "a huge printf width", text: `{{printf "%0999999d" 1}}`, wantErr: "printf: width or precision 0999999 is more than 1000"},
		{name: "a huge printf precision", text: `{{printf "%.5000f" 1.0}}`, wantErr: "printf: width or precision 5000 is more than 1000"},
		{name: "a printf width from an argument", text: `{{printf "%*d" 100000 1}}`, wantErr: "(*) is not allowed"},
		{name: "a format from the data", text: `{{printf .Message 1}}`, d: Data{Message: "%099999d"}, wantErr: "is more than 1000"},
		{name: "a string doubled until it is huge, never printed",
			text: `{{$a := "0123456789"}}{{range .Alerts}}{{$a = printf "%s%s" $a $a}}{{end}}x`, d: alerts,
			wantErr: "the prompt's functions produce more than 1048576 bytes in all"},
		{name: "doubled with print", text: `{{$a := "0123456789"}}{{range .Alerts}}{{$a = print $a $a}}{{end}}x`, d: alerts,
			wantErr: "functions produce more than"},
		{name: "doubled with join", text: `{{$a := "0123456789"}}{{range .Alerts}}{{$a = join $a $.Alerts}}{{end}}x`, d: alerts,
			wantErr: "functions produce more than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mustParse(t, tc.text).Render(tc.d)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Render error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) > limit || !utf8.ValidString(got) {
				t.Errorf("Render gave %d bytes (valid UTF-8: %v), want at most %d of valid UTF-8", len(got), utf8.ValidString(got), limit)
			}
			if tc.wantLen != 0 && len(got) != tc.wantLen {
				t.Errorf("Render gave %d bytes, want %d", len(got), tc.wantLen)
			}
			if !strings.HasSuffix(got, tc.wantSuffix) {
				t.Errorf("Render ends with %q, want %q", got[max(0, len(got)-80):], tc.wantSuffix)
			}
		})
	}
}

func TestFuncs(t *testing.T) {
	d := Data{Message: "héllo wörld", Count: 7, Alert: &AlertGroup{CommonLabels: map[string]string{"b": "2", "a": "1"}, Alerts: []Alert{{Status: "firing"}, {Status: "resolved"}}}}
	cases := []struct{ text, want string }{
		{`{{quote .Message}}`, `"héllo wörld"`},
		{`{{quote .Count}}`, `"7"`},
		{`{{.Message | truncate 5}}`, `héllo…`},
		{`{{.Message | truncate 11}}`, `héllo wörld`},
		{`{{.Message | truncate 0}}`, `…`},
		{`{{join ", " .Alert.CommonLabels}}`, `a=1, b=2`},
		{`{{join "," .Alert.GroupLabels}}x`, `x`},
		{`{{.Message | upper}} {{lower "ÀB"}} {{trim "  x  "}}`, `HÉLLO WÖRLD àb x`},
		{`{{.Reason | default "none"}} {{.Message | default "none"}} {{.Alert.GroupLabels | default "no labels"}} {{0 | default 5}}`, `none héllo wörld no labels 5`},
		{`{{len .Alert.Alerts}} {{(index .Alert.Alerts 1).Status}}`, `2 resolved`},
		// The builtins that build strings are replaced by counted ones that behave the same.
		{`x{{printf "%5d|%-3s|%%|%.2f|%x|%[1]d" 1 "a" 2.5 "hi"}}`, `x    1|a  |%|2.50|6869|1`},
		{`{{printf "%1000s" "x" | len}}`, `1000`},
		{`{{print 1 2 "a" "b"}} {{println "x" 3}}`, "1 2ab x 3"},
		{`{{html "<a href='x'>"}} {{js "it's"}} {{urlquery "a b&c"}}`, `&lt;a href=&#39;x&#39;&gt; it\'s a+b%26c`},
	}
	for _, tc := range cases {
		got, err := mustParse(t, tc.text).Render(d)
		if err != nil {
			t.Errorf("%s: %v", tc.text, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s = %q, want %q", tc.text, got, tc.want)
		}
	}
	if _, err := mustParse(t, `{{join ", " .Count}}`).Render(d); err == nil || !strings.Contains(err.Error(), "join wants a list or a map, got int32") {
		t.Errorf("join of a number: %v", err)
	}
}

// TestRenderConcurrently: the engine renders one parsed template from many workers.
func TestRenderConcurrently(t *testing.T) {
	tmpl := mustParse(t, `{{range .Alerts}}{{range $.Alerts}}{{.Status}}{{end}}{{end}} {{.Trigger}}`)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			d := Data{Trigger: fmt.Sprint(i), Alerts: make([]Alert, 32)}
			for range 20 {
				got, err := tmpl.Render(d)
				if err != nil || got != fmt.Sprint(i) {
					t.Errorf("Render = %q, %v", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// FuzzRender: whatever the template and the values, Parse and Render return (no panic)
// and a rendered prompt is non-empty valid UTF-8 within the maximum length.
func FuzzRender(f *testing.F) {
	f.Add(`Why {{.Reason}} on {{.Object}}? {{.Message | truncate 100 | quote}}`, "Back-off {{.Trigger}}", "pod")
	f.Add(`{{range $k, $v := .Alert.CommonLabels}}{{$k}}={{$v}} {{end}}{{len .Alerts}}`, strings.Repeat("ü", 3000), "\x00\x1b")
	f.Add(`{{range .Alerts}}{{range $.Alerts}}{{.Status}}{{end}}{{end}}`, "x", "y")
	f.Add(`{{printf "%0999999d" 1}}{{.Message}}`, "m", "k")
	f.Add(`{{slice .Message 0 1}}`, "é", "k")
	f.Fuzz(func(t *testing.T, text, value, key string) {
		tmpl, err := Parse(text)
		if err != nil {
			return
		}
		alerts := []Alert{{Status: value, Labels: map[string]string{key: value}}, {Annotations: map[string]string{key: value}}}
		d := Data{Trigger: value, Message: value, Reason: key, Count: int32(len(value)), //nolint:gosec // G115: a fuzz input is far shorter than 2 GiB
			Alert: &AlertGroup{CommonLabels: map[string]string{key: value}, Alerts: alerts}}
		out, err := tmpl.Render(d)
		if err != nil {
			return
		}
		if out == "" || len(out) > agentsv1alpha1.MaxPromptLength || !utf8.ValidString(out) {
			t.Errorf("Render gave %d bytes (valid UTF-8: %v)", len(out), utf8.ValidString(out))
		}
	})
}
