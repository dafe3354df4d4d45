package tools

import (
	"fmt"
	"slices"
	"strings"
)

// kubectlCall is a checked kubectl argument list.
type kubectlCall struct {
	// verb is the command, with its subcommand for rollout and auth ("rollout status").
	verb string
	// output is the -o/--output format ("" for the default).
	output string
	// readsStdin is true when the manifest comes from the stdin field (-f -).
	readsStdin bool
	// subcommand is the word after create or apply, when it is not a flag ("token",
	// "secret", "view-last-applied").
	subcommand string
	// unredactable names the flag that makes the output impossible to redact (--raw,
	// --template, --resolve), accepted only when the policy allows secret values.
	unredactable string
}

// unredactableWhy says what makes the output impossible to redact.
func (c kubectlCall) unredactableWhy() string {
	if c.unredactable != "" {
		return "--" + c.unredactable
	}
	return "-o " + c.output
}

// kubectlCommands are the built-in kubectl commands the tool runs, each marked
// read-only or not. Anything else, plugins included, is refused: the set is explicit so
// that a new kubectl command is off until someone decides what it does. Left out on
// purpose: exec, attach, cp, port-forward, proxy (streams and local sockets), edit and
// `apply edit-last-applied` (an editor), debug, config and kuberc (local files),
// plugin, kustomize (a local directory), completion, alpha.
var kubectlCommands = map[string]bool{
	"get": true, "describe": true, "logs": true, "top": true, "explain": true, "events": true,
	"api-resources": true, "api-versions": true, "version": true, "cluster-info": true, "diff": true,
	"auth": false, "rollout": false, // read-only or not depending on the subcommand
	"apply": false, "create": false, "delete": false, "patch": false, "replace": false, "scale": false,
	"label": false, "annotate": false, "set": false, "taint": false, "cordon": false, "uncordon": false,
	"drain": false, "autoscale": false, "expose": false, "run": false, "certificate": false, "wait": false,
}

// readOnlySubcommands are the read-only subcommands of commands that also mutate.
var readOnlySubcommands = map[string]bool{
	"auth can-i": true, "auth whoami": true, "rollout status": true, "rollout history": true,
	"apply view-last-applied": true,
}

// refusedKubectlFlags choose who kubectl is, where it connects, or what it reads and
// writes on the manager's filesystem. The identity and connection come only from the
// private kubeconfig; the manager's filesystem is not the requester's.
var refusedKubectlFlags = map[string]string{
	"kubeconfig": "credentials", "token": "credentials", "as": "credentials", "as-group": "credentials",
	"as-uid": "credentials", "as-user-extra": "credentials", "server": "connection", "user": "credentials",
	"cluster": "connection", "context": "credentials", "username": "credentials", "password": "credentials",
	"client-certificate": "credentials", "client-key": "credentials", "certificate-authority": "connection",
	"insecure-skip-tls-verify": "connection", "tls-server-name": "connection", "proxy-url": "connection",
	"cache-dir": "local files", "kuberc": "local files", "profile": "local files", "profile-output": "local files",
	"kustomize": "local files", "from-file": "local files", "from-env-file": "local files", "env-file": "local files",
	"cert": "local files", "key": "local files", "output-directory": "local files", "custom": "local files",
	"log-file": "local files", "log-dir": "local files",
	"v": "verbose logs of requests", "vmodule": "verbose logs of requests",
}

// streamingKubectlFlags never end on their own (or wait for a terminal); the tool
// returns when kubectl exits. They are refused unless set to false.
var streamingKubectlFlags = []string{"watch", "watch-only", "follow", "stdin", "tty", "interactive", "attach"}

// unredactableKubectlFlags print values the output policy cannot redact; they are
// refused unless the policy allows secret values.
var unredactableKubectlFlags = []string{"raw", "template", "resolve"}

// redactableOutputs are the -o formats whose output can be redacted (json, yaml as
// objects; the others print no secret values).
var redactableOutputs = []string{"", "wide", "name", "json", "yaml", "plaintext", "plaintext-openapiv2"}

// parseKubectlArgs checks args (what follows "kubectl") and returns what the call does.
// It is deliberately stricter than kubectl: when unsure it refuses. Every argument that
// starts with "-" is checked, in the --flag=value, --flag value, -x value,
// -xvalue and combined (-Ax) forms; "_" in long names counts as "-", as kubectl
// normalizes them.
func parseKubectlArgs(args []string, haveStdin, allowSecretValues bool) (kubectlCall, error) {
	refuse := func(format string, a ...any) (kubectlCall, error) {
		return kubectlCall{}, ArgumentError{Tool: "kubectl", Reason: fmt.Sprintf(format, a...)}
	}
	if len(args) == 0 {
		return refuse("args is empty: give a kubectl command and its arguments, e.g. [\"get\",\"pods\",\"-n\",\"team-a\"]")
	}
	cmd := args[0]
	if _, ok := kubectlCommands[cmd]; !ok {
		return refuse("%q is not an allowed kubectl command; the first argument must be one of: %s", cmd, strings.Join(allowedKubectlCommands(), ", "))
	}
	call := kubectlCall{verb: cmd}
	if cmd == "auth" || cmd == "rollout" {
		if len(args) < 2 || strings.HasPrefix(args[1], "-") {
			return refuse("put the %s subcommand right after %q (e.g. [\"%s\",\"%s\",...])", cmd, cmd, cmd, map[string]string{"auth": "can-i", "rollout": "status"}[cmd])
		}
		call.verb = cmd + " " + args[1]
	}
	if (cmd == "create" || cmd == "apply") && len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		call.subcommand = args[1]
		if cmd == "apply" && strings.HasSuffix(args[1], "-last-applied") {
			call.verb = cmd + " " + args[1] // view-last-applied only reads
		}
	}
	if cmd == "cluster-info" && slices.Contains(args, "dump") {
		return refuse("cluster-info dump is not allowed: its output is unbounded; list what you need with get, describe or logs")
	}
	if cmd == "apply" && slices.Contains(args, "edit-last-applied") {
		return refuse("apply edit-last-applied opens an editor; use apply or patch")
	}
	filename := func(v string) error {
		if v == "-" && haveStdin {
			call.readsStdin = true
			return nil
		}
		if v == "-" {
			return ArgumentError{Tool: "kubectl", Reason: "-f - reads the manifest from the stdin field, which is empty"}
		}
		return ArgumentError{Tool: "kubectl", Reason: fmt.Sprintf("-f %s: files and URLs cannot be read (the manager's filesystem is not yours); put the manifest in the stdin field and use -f -", v)}
	}
	output := func(v string) error {
		format, _, _ := strings.Cut(v, "=")
		call.output = format
		if strings.HasSuffix(format, "-file") || format == "templatefile" {
			return ArgumentError{Tool: "kubectl", Reason: fmt.Sprintf("-o %s reads a local file; give the template inline (-o %s=...)", format, strings.TrimSuffix(strings.TrimSuffix(format, "-file"), "file"))}
		}
		if !allowSecretValues && !slices.Contains(redactableOutputs, format) {
			return ArgumentError{Tool: "kubectl", Reason: fmt.Sprintf("-o %s could print secret values, which this profile hides; use -o yaml or -o json (secret values are redacted)", format)}
		}
		return nil
	}
	for i := 1; i < len(args); i++ {
		a := args[i]
		next := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch {
		// "--" is not a stop here: it may be the value of the flag before it, and then
		// kubectl reads the arguments after it as flags. Container commands after "--"
		// (run, create job) are checked too: stricter, never looser, than kubectl.
		case a == "-" || a == "--" || !strings.HasPrefix(a, "-") || isNumber(a[1:]):
			continue
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a[2:], "=")
			name = strings.ReplaceAll(name, "_", "-")
			if why, ok := refusedKubectlFlags[name]; ok {
				return refuse("--%s is not allowed (%s): kubectl runs as the requester with the operator's connection", name, why)
			}
			var err error
			switch {
			case name == "filename":
				if !hasValue {
					value = next()
				}
				err = filename(value)
			case name == "output":
				if !hasValue {
					value = next()
				}
				err = output(value)
			case slices.Contains(streamingKubectlFlags, name) && (!hasValue || value != "false"):
				return refuse("--%s is not allowed: the tool returns when kubectl exits, it does not stream or attach", name)
			case slices.Contains(unredactableKubectlFlags, name) && (!hasValue || value != "false"):
				if !allowSecretValues {
					return refuse("--%s could print secret values, which this profile hides", name)
				}
				call.unredactable = name
			}
			if err != nil {
				return kubectlCall{}, err
			}
		default:
			if err := parseShortFlags(cmd, a[1:], next, filename, output); err != nil {
				return kubectlCall{}, err
			}
		}
	}
	if haveStdin && !call.readsStdin {
		return refuse("stdin is given but no -f - reads it")
	}
	return call, nil
}

// parseShortFlags checks one group of short flags (what follows a single "-"). A letter
// that takes a value ends the group: the rest, or the next argument, is its value. A
// letter whose kind varies by command is treated as a switch, so the letters after it
// are still checked (stricter, never looser, than kubectl).
func parseShortFlags(cmd, group string, next func() string, filename, output func(string) error) error {
	refuse := func(format string, a ...any) error {
		return ArgumentError{Tool: "kubectl", Reason: fmt.Sprintf(format, a...)}
	}
	for j := 0; j < len(group); j++ {
		c := group[j]
		value := func() string {
			if rest := strings.TrimPrefix(group[j+1:], "="); rest != "" {
				return rest
			}
			return next()
		}
		switch c {
		case 's':
			return refuse("-s (--server) is not allowed: kubectl runs with the operator's connection")
		case 'k':
			return refuse("-k (--kustomize) reads a local directory; put the rendered manifest in stdin and use -f -")
		case 'i', 't':
			return refuse("-%c is not allowed: the tool does not attach a terminal or stdin", c)
		case 'w':
			return refuse("-w (--watch) is not allowed: the tool returns when kubectl exits")
		case 'v':
			return refuse("-v is not allowed: verbose logs show request details")
		case 'f':
			if cmd == "logs" {
				return refuse("-f (--follow) is not allowed: the tool returns when kubectl exits; use --tail or --since")
			}
			return filename(value())
		case 'o':
			return output(value())
		case 'n', 'l', 'L', 'c', 'e', 'r', 'u', 'P':
			return nil // the rest of the group is the value
		case 'p':
			if cmd == "patch" {
				return nil
			}
		default:
			if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
				return refuse("-%s is not a flag kubectl understands", group)
			}
		}
	}
	return nil
}

// mutates reports whether the call may change the cluster: anything not known to be
// read-only does.
func (c kubectlCall) mutates() bool {
	if ro, ok := readOnlySubcommands[c.verb]; ok {
		return !ro
	}
	return !kubectlCommands[c.verb]
}

func allowedKubectlCommands() []string {
	names := make([]string, 0, len(kubectlCommands))
	for n := range kubectlCommands {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// isNumber reports whether s is a number, as in the value of --tail -1.
func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return true
}
