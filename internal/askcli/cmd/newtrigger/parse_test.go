package newtrigger

import (
	"strings"
	"testing"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

func TestCronFor(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"1m", "* * * * *"},
		{"5m", "*/5 * * * *"},
		{"15m", "*/15 * * * *"},
		{"30m", "*/30 * * * *"},
		{"60m", "0 * * * *"},
		{"1h", "0 * * * *"},
		{"2h", "0 */2 * * *"},
		{"6h", "0 */6 * * *"},
		{"12h", "0 */12 * * *"},
		{"24h", "0 0 * * *"},
		{"1d", "0 0 * * *"},
		{"7d", "0 0 * * 0"},
		{"168h", "0 0 * * 0"},
		// Not exact: a cron step restarts at every hour, day or month boundary.
		{"7m", ""}, {"45m", ""}, {"90m", ""}, {"5h", ""}, {"36h", ""}, {"2d", ""}, {"30s", ""}, {"1m30s", ""}, {"0m", ""}, {"-1h", ""},
	}
	for _, tt := range tests {
		got, err := cronFor(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("cronFor(%q) = %q, want an error", tt.in, got)
		case tt.want == "" && !strings.Contains(err.Error(), "--cron"):
			t.Errorf("cronFor(%q): the error should suggest --cron: %v", tt.in, err)
		case tt.want != "" && (err != nil || got != tt.want):
			t.Errorf("cronFor(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := cronFor("pod"); err == nil || !strings.Contains(err.Error(), "quote the whole question") {
		t.Errorf(`cronFor("pod") should say it is no duration and how to ask such a question: %v`, err)
	}
}

func TestAlertMatcher(t *testing.T) {
	tests := []struct {
		in      string
		want    agentsv1alpha1.AlertMatcher
		wantErr bool
	}{
		{in: "alertname=KubePodCrashLooping", want: agentsv1alpha1.AlertMatcher{Name: "alertname", Op: "=", Value: "KubePodCrashLooping"}},
		{in: `alertname="KubePodCrashLooping"`, want: agentsv1alpha1.AlertMatcher{Name: "alertname", Op: "=", Value: "KubePodCrashLooping"}},
		{in: "team!=b", want: agentsv1alpha1.AlertMatcher{Name: "team", Op: "!=", Value: "b"}},
		{in: `severity=~"critical|page"`, want: agentsv1alpha1.AlertMatcher{Name: "severity", Op: "=~", Value: "critical|page"}},
		{in: "namespace!~kube-.*", want: agentsv1alpha1.AlertMatcher{Name: "namespace", Op: "!~", Value: "kube-.*"}},
		{in: " job = api ", want: agentsv1alpha1.AlertMatcher{Name: "job", Op: "=", Value: "api"}},
		{in: "empty=", want: agentsv1alpha1.AlertMatcher{Name: "empty", Op: "=", Value: ""}},
		{in: "a==b", want: agentsv1alpha1.AlertMatcher{Name: "a", Op: "=", Value: "=b"}},
		{in: "alertname", wantErr: true},
		{in: "1abc=x", wantErr: true},
		{in: "severity=~(", wantErr: true},
		{in: `x="unterminated\"`, wantErr: true},
	}
	for _, tt := range tests {
		got, err := alertMatcher(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("alertMatcher(%q) = %+v, %v; want %+v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestSecretRef(t *testing.T) {
	if ref, err := secretRef("--x", "hooks/url"); err != nil || ref.Name != "hooks" || ref.Key != "url" {
		t.Errorf("hooks/url: %+v, %v", ref, err)
	}
	if ref, err := secretRef("--x", "hooks/tls.crt"); err != nil || ref.Key != "tls.crt" {
		t.Errorf("hooks/tls.crt: %+v, %v", ref, err)
	}
	if ref, err := secretRef("--x", ""); ref != nil || err != nil {
		t.Errorf("empty: %+v, %v", ref, err)
	}
	for _, bad := range []string{"hooks", "/url", "hooks/", "Hooks/url", "hooks/a/b"} {
		if _, err := secretRef("--x", bad); err == nil || !strings.Contains(err.Error(), "--x") {
			t.Errorf("%q: want an error naming the flag, got %v", bad, err)
		}
	}
}

func TestCheckTemplate(t *testing.T) {
	for _, ok := range []string{
		"why is {{.Object}} crash-looping?",
		"{{if .Alert}}alert {{.Alert.Labels.alertname}}{{else}}{{.Reason}}{{end}}",
		"{{ .Message | trunc 200 }}", // functions are the operator's business
		"no template at all",
	} {
		if err := checkTemplate(ok); err != nil {
			t.Errorf("checkTemplate(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"{{ if .Object }}", "{{.Object}", "{{end}}", "{{ .Object ) }}"} {
		if err := checkTemplate(bad); err == nil {
			t.Errorf("checkTemplate(%q): want an error", bad)
		}
	}
}

func TestCheckEventFilters(t *testing.T) {
	if err := checkEventFilters([]string{"BackOff"}, []string{"Pod", "Deployment"}, []string{"checkout-*", "api-[0-9]"}); err != nil {
		t.Error(err)
	}
	for _, tt := range []struct{ reasons, kinds, names []string }{
		{reasons: []string{"Back Off"}},
		{kinds: []string{"pod"}},
		{names: []string{"Checkout-*"}},
		{names: []string{"api-["}},
	} {
		if err := checkEventFilters(tt.reasons, tt.kinds, tt.names); err == nil {
			t.Errorf("%+v: want an error", tt)
		}
	}
}
