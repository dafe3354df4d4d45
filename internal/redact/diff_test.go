package redact

import (
	"strings"
	"testing"

	"github.com/pmezard/go-difflib/difflib"
)

// fullDiff prints what kubectl diff prints with diff -N -U<DiffContextLines>, for one
// object: both versions whole in one hunk.
func fullDiff(t *testing.T, name, old, new string) string {
	t.Helper()
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(old), B: difflib.SplitLines(new),
		FromFile: "/tmp/LIVE-1/" + name, FromDate: "2030-01-01 00:00:00.000000000 +0000",
		ToFile: "/tmp/MERGED-2/" + name, ToDate: "2030-01-01 00:00:00.000000000 +0000",
		Context: DiffContextLines,
	})
	if err != nil {
		t.Fatal(err)
	}
	return "diff -N -U1048576 /tmp/LIVE-1/" + name + " /tmp/MERGED-2/" + name + "\n" + text
}

func TestDiff(t *testing.T) {
	deploy := func(image, password string) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - env:\n        - name: DB_PASSWORD\n          value: " + password +
			"\n        - name: MODE\n          value: fast\n        image: " + image + "\n        name: app\n"
	}
	secret := func(data string) string {
		return "apiVersion: v1\ndata:\n  blob: " + data + "\nkind: Secret\nmetadata:\n  name: db\n"
	}
	cases := []struct {
		name, out           string
		plainHas, plainLack []string
		has, lacks          []string
		fails               bool
	}{
		{name: "an env value and an image change",
			out:       fullDiff(t, "apps.v1.Deployment.team-a.web", deploy("web:1", "old-pw-value"), deploy("web:2", "new-pw-value")),
			plainHas:  []string{"-          value: old-pw-value", "+          value: new-pw-value", "+        image: web:2", "--- LIVE/apps.v1.Deployment.team-a.web"},
			plainLack: []string{"/tmp/"},
			has:       []string{"-        image: web:1", "+        image: web:2", "<redacted: 12 bytes>"},
			lacks:     []string{"old-pw-value", "new-pw-value"}},
		{name: "only Secret data changes",
			out: fullDiff(t, "v1.Secret.team-a.db", secret("b2xkLXNlY3JldA=="), secret("bmV3LXNlY3JldA==")),
			has: []string{"differ only in secret values"}, lacks: []string{"b2xkLXNlY3JldA==", "bmV3LXNlY3JldA=="}},
		{name: "a created object, as GNU diff prints it",
			out:   "diff -N -U1048576 /tmp/LIVE-1/v1.Secret.a.b /tmp/MERGED-2/v1.Secret.a.b\n--- /tmp/LIVE-1/v1.Secret.a.b\t1970-01-01 00:00:00.000000000 +0000\n+++ /tmp/MERGED-2/v1.Secret.a.b\t2030-01-01 00:00:00.000000000 +0000\n@@ -0,0 +1,4 @@\n+apiVersion: v1\n+kind: Secret\n+stringData:\n+  blob: created-value\n",
			has:   []string{"+kind: Secret", "+  blob: '<redacted: 13 bytes>'"},
			lacks: []string{"created-value"}},
		{name: "two objects",
			out:   fullDiff(t, "a", deploy("x:1", "pw-one-1"), deploy("x:2", "pw-one-1")) + fullDiff(t, "b", secret("YQ=="), secret("Yg==")),
			has:   []string{"+        image: x:2", "LIVE/b and MERGED/b differ only in secret values"},
			lacks: []string{"pw-one-1", "YQ==", "Yg=="}},
		{name: "a diff with the usual context is refused: it lacks the whole objects",
			out:   "--- a\n+++ b\n@@ -10,3 +10,3 @@\n a\n-b\n+c\n",
			fails: true},
		{name: "something else", out: "error: the server could not be reached\n", fails: true},
		{name: "a hunk cut short", out: "--- a\n+++ b\n@@ -1,3 +1,3 @@\n a\n", fails: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plain, redacted, removed, err := Diff(tc.out)
			if tc.fails {
				if err == nil {
					t.Fatalf("want an error, got\n%s", redacted)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			check := func(what, text string, has, lacks []string) {
				for _, s := range has {
					if !strings.Contains(text, s) {
						t.Errorf("%s lacks %q:\n%s", what, s, text)
					}
				}
				for _, s := range lacks {
					if strings.Contains(text, s) {
						t.Errorf("%s holds %q:\n%s", what, s, text)
					}
				}
			}
			check("plain", plain, tc.plainHas, tc.plainLack)
			check("redacted", redacted, tc.has, tc.lacks)
			for _, s := range tc.lacks {
				found := false
				for _, v := range removed {
					found = found || strings.Contains(v, s)
				}
				if !found {
					t.Errorf("removed %q lacks %q", removed, s)
				}
			}
		})
	}
}
