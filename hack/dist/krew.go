package main

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"strings"
	"text/template"

	"sigs.k8s.io/yaml"
)

// releaseURL is where a tag's assets are downloaded from; the manifest's uris must
// point there.
const releaseURL = "https://github.com/kubeask/kubeask/releases/download/"

// renderKrew fills plugins/krew/ask.yaml the way krew-release-bot does, so that the
// one template serves both: {{ .TagName }} is the tag, and {{addURIAndSha URL TAG}}
// (whose URL is itself a template of the tag) becomes the uri and the sha256 of the
// archive that URL names, taken from sums (archive name → hex SHA-256) instead of a
// download.
func renderKrew(tmpl []byte, tag string, sums map[string]string) ([]byte, error) {
	data := struct{ TagName string }{TagName: tag}
	funcs := template.FuncMap{"addURIAndSha": func(url, tag string) (string, error) {
		u, err := execute("url", url, struct{ TagName string }{TagName: tag})
		if err != nil {
			return "", err
		}
		sum, ok := sums[path.Base(u)]
		if !ok {
			return "", fmt.Errorf("the manifest names %s, which this release did not build", path.Base(u))
		}
		// The indentation is the template's: the call stands where uri goes. The sum is
		// quoted, unlike krew-release-bot's: an all-digit sum would be read as a number.
		return fmt.Sprintf("uri: %s\n    sha256: %q", u, sum), nil
	}}
	t, err := template.New("krew").Funcs(funcs).Option("missingkey=error").Parse(string(tmpl))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func execute(name, text string, data any) (string, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = t.Execute(&b, data)
	return b.String(), err
}

// krewPlugin is the part of krew's Plugin (v1alpha2) that the manifest uses; strict
// decoding makes a misspelled field an error here rather than in the krew index.
type krewPlugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string         `json:"version"`
		Homepage         string         `json:"homepage"`
		ShortDescription string         `json:"shortDescription"`
		Description      string         `json:"description"`
		Caveats          string         `json:"caveats"`
		Platforms        []krewPlatform `json:"platforms"`
	} `json:"spec"`
}

type krewPlatform struct {
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	URI    string `json:"uri"`
	Sha256 string `json:"sha256"`
	Bin    string `json:"bin"`
}

// validateKrew checks a rendered manifest: it parses as YAML, no placeholder is
// left, and there is exactly one platform per built platform, each with the release
// download uri of its archive, that archive's sha256 and the binary's name.
func validateKrew(manifest []byte, tag string, platforms []platform, sums map[string]string) error {
	if bytes.Contains(manifest, []byte("{{")) {
		return errors.New("the krew manifest still has a {{ placeholder")
	}
	var p krewPlugin
	if err := yaml.UnmarshalStrict(manifest, &p); err != nil {
		return fmt.Errorf("the krew manifest is not a valid Plugin: %w", err)
	}
	var errs []error
	if p.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || p.Kind != "Plugin" || p.Metadata.Name != "ask" {
		errs = append(errs, fmt.Errorf("krew manifest is %s %s %q, want a v1alpha2 Plugin named ask", p.APIVersion, p.Kind, p.Metadata.Name))
	}
	if p.Spec.Version != tag {
		errs = append(errs, fmt.Errorf("krew manifest version %q, want %q", p.Spec.Version, tag))
	}
	if p.Spec.ShortDescription == "" || p.Spec.Homepage == "" {
		errs = append(errs, errors.New("krew manifest needs a shortDescription and a homepage"))
	}
	want := map[platform]bool{}
	for _, pl := range platforms {
		want[pl] = true
	}
	for i, got := range p.Spec.Platforms {
		pl := platform{OS: got.Selector.MatchLabels["os"], Arch: got.Selector.MatchLabels["arch"]}
		if !want[pl] {
			errs = append(errs, fmt.Errorf("krew platform %d (%s) was not built, or is listed twice", i, pl))
			continue
		}
		delete(want, pl)
		archive := pl.archiveName("kubectl-ask", tag)
		if u := releaseURL + tag + "/" + archive; got.URI != u {
			errs = append(errs, fmt.Errorf("krew platform %s: uri %q, want %q", pl, got.URI, u))
		}
		if got.Sha256 != sums[archive] {
			errs = append(errs, fmt.Errorf("krew platform %s: sha256 %q, want %q (of %s)", pl, got.Sha256, sums[archive], archive))
		}
		if b := "kubectl-ask" + pl.exe(); got.Bin != b {
			errs = append(errs, fmt.Errorf("krew platform %s: bin %q, want %q", pl, got.Bin, b))
		}
	}
	for _, pl := range platforms {
		if want[pl] {
			errs = append(errs, fmt.Errorf("krew manifest has no platform %s", pl))
		}
	}
	return errors.Join(errs...)
}
