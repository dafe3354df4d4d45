// Package render turns AgentQuery steps, answers and proposed changes into what a
// person reads in a terminal: kubectl-like command lines, one-line results, markdown,
// diffs and a spinner. It is pure formatting: no API calls.
package render

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Command renders a tool call as the kubectl command that would do the same, so that a
// person recognises it at a glance. Unknown tools, or arguments that do not parse, are
// shown as the tool name and the raw JSON.
func Command(tool, arguments string) string {
	var a map[string]any
	if err := json.Unmarshal([]byte(arguments), &a); err != nil {
		return strings.TrimSpace(tool + " " + arguments)
	}
	s := func(k string) string { v, _ := a[k].(string); return v }
	b := func(k string) bool { v, _ := a[k].(bool); return v }
	n := func(k string) (int64, bool) {
		v, ok := a[k].(float64)
		return int64(v), ok && v != 0
	}
	cmd := &line{}
	ns := func() {
		if b("allNamespaces") {
			cmd.add("-A")
		} else if v := s("namespace"); v != "" {
			cmd.add("-n", v)
		}
	}
	switch tool {
	case "resources_list":
		cmd.add("kubectl", "get", resourceArg(s("resource"), s("apiVersion")))
		ns()
		cmd.flag("-l", s("labelSelector"))
		cmd.flag("--field-selector", s("fieldSelector"))
		if v, ok := n("limit"); ok {
			cmd.add("--chunk-size=" + strconv.FormatInt(v, 10))
		}
	case "resources_get":
		cmd.add("kubectl", "get", resourceArg(s("resource"), s("apiVersion")), s("name"))
		ns()
		cmd.add("-o", "yaml")
	case "resources_describe":
		cmd.add("kubectl", "describe", resourceArg(s("resource"), s("apiVersion")), s("name"))
		ns()
	case "events_list":
		cmd.add("kubectl", "events")
		ns()
		if name := s("objectName"); name != "" {
			kind := s("objectKind")
			if kind == "" {
				cmd.add("--for", name)
			} else {
				cmd.add("--for", kind+"/"+name)
			}
		}
		if b("warningsOnly") {
			cmd.add("--types=Warning")
		}
	case "pods_log":
		cmd.add("kubectl", "logs", s("name"))
		ns()
		cmd.flag("-c", s("container"))
		if b("previous") {
			cmd.add("--previous")
		}
		if v, ok := n("tailLines"); ok {
			cmd.add("--tail=" + strconv.FormatInt(v, 10))
		}
		if v, ok := n("sinceSeconds"); ok {
			cmd.add("--since=" + strconv.FormatInt(v, 10) + "s")
		}
	case "rollout_status", "rollout_history", "rollout_restart":
		cmd.add("kubectl", "rollout", strings.TrimPrefix(tool, "rollout_"), strings.ToLower(s("kind"))+"/"+s("name"))
		ns()
	case "api_resources":
		cmd.add("kubectl", "api-resources")
		cmd.flag("--api-group", s("apiGroup"))
		if v, ok := a["namespaced"].(bool); ok {
			cmd.add("--namespaced=" + strconv.FormatBool(v))
		}
	case "auth_can_i":
		target := s("resource")
		if name := s("name"); name != "" {
			target += "/" + name
		}
		cmd.add("kubectl", "auth", "can-i", s("verb"), target)
		cmd.flag("--subresource", s("subresource"))
		ns()
	case "resources_apply":
		cmd.add("kubectl", "apply", "--server-side", "-f", "-")
		ns()
		if b("dryRun") {
			cmd.add("--dry-run=server")
		}
		if objs := ManifestObjects(s("manifest")); objs != "" {
			cmd.add("# " + objs)
		}
	case "resources_patch":
		cmd.add("kubectl", "patch", resourceArg(s("resource"), s("apiVersion")), s("name"))
		ns()
		pt := s("patchType")
		if pt == "" {
			pt = "strategic"
		}
		cmd.add("--type", pt, "-p", compactJSON(s("patch")))
	case "resources_delete":
		cmd.add("kubectl", "delete", resourceArg(s("resource"), s("apiVersion")), s("name"))
		ns()
	case "resources_scale":
		replicas, _ := a["replicas"].(float64)
		cmd.add("kubectl", "scale", resourceArg(s("resource"), s("apiVersion"))+"/"+s("name"), "--replicas="+strconv.Itoa(int(replicas)))
		ns()
	case "kubectl":
		cmd.add("kubectl")
		if args, ok := a["args"].([]any); ok {
			for _, x := range args {
				cmd.add(fmt.Sprint(x))
			}
		}
		if s("stdin") != "" {
			cmd.add("# with a manifest on stdin")
		}
	default:
		return strings.TrimSpace(tool + " " + compactJSON(arguments))
	}
	return cmd.String()
}

// resourceArg is kubectl's resource argument: "deploy" or "deployments.v1.apps".
func resourceArg(resource, apiVersion string) string {
	if apiVersion == "" || strings.Contains(resource, ".") {
		return resource
	}
	group, version, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return resource // core group: the resource name is enough
	}
	return resource + "." + version + "." + group
}

// ManifestObjects summarizes a manifest as "Kind/name, Kind/name".
func ManifestObjects(manifest string) string {
	var refs []string
	for _, doc := range splitDocuments(manifest) {
		var m struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil || m.Kind == "" {
			continue
		}
		refs = append(refs, m.Kind+"/"+m.Metadata.Name)
	}
	return strings.Join(refs, ", ")
}

func splitDocuments(manifest string) []string {
	var docs []string
	for _, d := range strings.Split("\n"+manifest, "\n---") {
		if strings.TrimSpace(d) != "" {
			docs = append(docs, d)
		}
	}
	return docs
}

func compactJSON(s string) string {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return s
	}
	out, err := json.Marshal(v)
	if err != nil {
		return s
	}
	return string(out)
}

// line builds a command line, quoting words as a POSIX shell would need.
type line struct{ words []string }

func (l *line) add(words ...string) {
	for _, w := range words {
		if w != "" {
			l.words = append(l.words, w)
		}
	}
}

func (l *line) flag(name, value string) {
	if value != "" {
		l.add(name, value)
	}
}

func (l *line) String() string {
	out := make([]string, len(l.words))
	for i, w := range l.words {
		if strings.HasPrefix(w, "# ") {
			out[i] = w
			continue
		}
		out[i] = Quote(w)
	}
	return strings.Join(out, " ")
}

// Quote quotes w for a POSIX shell when it needs it.
func Quote(w string) string {
	if w == "" {
		return "''"
	}
	safe := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@%+", r)
	}
	if strings.IndexFunc(w, func(r rune) bool { return !safe(r) }) < 0 {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}
