package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kubeask/kubeask/internal/version"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantDone   bool
		wantStdout string
		wantStderr string // a substring
	}{
		{name: "version", args: []string{"--version"}, wantDone: true, wantStdout: "kubeask-manager " + version.String() + "\n"},
		// The chart's args come with the flag: --version still answers, and does not
		// validate them.
		{name: "version with invalid options", args: []string{"--admission=nonsense", "-version"}, wantDone: true, wantStdout: "kubeask-manager " + version.String() + "\n"},
		{name: "help", args: []string{"--help"}, wantDone: true, wantStderr: "-version"},
		{name: "unknown flag", args: []string{"--no-such-flag"}, wantCode: 2, wantDone: true, wantStderr: "flag provided but not defined: -no-such-flag"},
		{name: "invalid option", args: []string{"--admission=nonsense"}, wantCode: 2, wantDone: true, wantStderr: `--admission must be "policy" or "webhook", not "nonsense"`},
		{name: "run", args: []string{"--admission=webhook", "--leader-elect"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cl, code, done := parse(tc.args, &stdout, &stderr)
			if code != tc.wantCode || done != tc.wantDone {
				t.Errorf("code %d, done %v; want %d, %v (stderr %q)", code, done, tc.wantCode, tc.wantDone, stderr.String())
			}
			if stdout.String() != tc.wantStdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.wantStdout)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) || (tc.wantStderr == "" && stderr.Len() > 0) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tc.wantStderr)
			}
			if !done && (cl.opts.Admission != "webhook" || !cl.opts.LeaderElect || cl.opts.Namespace == "") {
				t.Errorf("options not parsed and completed: %+v", cl.opts)
			}
		})
	}
}
