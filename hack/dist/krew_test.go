package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// fakeSums gives every archive of platforms a distinct fake SHA-256; the first is all
// digits, which YAML would read as a number unless quoted.
func fakeSums(platforms []platform, tag string) map[string]string {
	sums := map[string]string{}
	for i, p := range platforms {
		sums[p.archiveName("kubectl-ask", tag)] = fmt.Sprintf("%064x", i+1)
	}
	return sums
}

// TestShippedKrewTemplate renders plugins/krew/ask.yaml, the template krew-release-bot
// also reads, for every platform of a release.
func TestShippedKrewTemplate(t *testing.T) {
	tmpl, err := os.ReadFile("../../plugins/krew/ask.yaml")
	if err != nil {
		t.Fatal(err)
	}
	platforms, err := parsePlatforms(allPlatforms)
	if err != nil {
		t.Fatal(err)
	}
	const tag = "v1.2.3"
	sums := fakeSums(platforms, tag)
	out, err := renderKrew(tmpl, tag, sums)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateKrew(out, tag, platforms, sums); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"    uri: https://github.com/kubeask/kubeask/releases/download/v1.2.3/kubectl-ask_v1.2.3_windows_arm64.zip\n    sha256: \"" + sums["kubectl-ask_v1.2.3_windows_arm64.zip"] + "\"\n    bin: kubectl-ask.exe\n",
		`version: "v1.2.3"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rendered manifest lacks %q:\n%s", want, out)
		}
	}

	// Every way the manifest can go wrong is caught before it reaches the index.
	for _, tc := range []struct {
		name, err string
		edit      func(string) string
		platforms []platform
	}{
		{name: "wrong sha256", err: "sha256", edit: func(s string) string {
			return strings.Replace(s, sums["kubectl-ask_v1.2.3_linux_arm64.tar.gz"], strings.Repeat("f", 64), 1)
		}},
		{name: "placeholder left", err: "placeholder", edit: func(s string) string { return s + "# {{ .TagName }}\n" }},
		{name: "not YAML", err: "not a valid Plugin", edit: func(s string) string { return s + "\t- :\n" }},
		{name: "misspelled field", err: "not a valid Plugin", edit: func(s string) string { return strings.Replace(s, "bin: kubectl-ask.exe", "binary: kubectl-ask.exe", 1) }},
		{name: "wrong binary", err: `bin "kubectl-ask"`, edit: func(s string) string { return strings.Replace(s, "bin: kubectl-ask.exe", "bin: kubectl-ask", 1) }},
		{name: "wrong version", err: "version", edit: func(s string) string { return strings.Replace(s, `version: "v1.2.3"`, `version: "v1.2.4"`, 1) }},
		{name: "platform not built", err: "(windows/arm64) was not built", edit: func(s string) string { return s }, platforms: platforms[:5]},
		{name: "platform missing", err: "no platform plan9/amd64", edit: func(s string) string { return s }, platforms: append(platforms[:6:6], platform{OS: "plan9", Arch: "amd64"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl := platforms
			if tc.platforms != nil {
				pl = tc.platforms
			}
			err := validateKrew([]byte(tc.edit(string(out))), tag, pl, sums)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want one mentioning %q", err, tc.err)
			}
		})
	}
}

func TestRenderKrewNeedsEveryArchive(t *testing.T) {
	tmpl, err := os.ReadFile("../../plugins/krew/ask.yaml")
	if err != nil {
		t.Fatal(err)
	}
	linux := []platform{{OS: "linux", Arch: "amd64"}}
	_, err = renderKrew(tmpl, "v1.2.3", fakeSums(linux, "v1.2.3"))
	if err == nil || !strings.Contains(err.Error(), "kubectl-ask_v1.2.3_linux_arm64.tar.gz, which this release did not build") {
		t.Errorf("error %v, want the missing archive named", err)
	}
}
