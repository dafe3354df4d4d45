package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// The demo model lets `make dev` answer queries with no LLM and no network: a local
// server speaking the OpenAI chat completions protocol that looks at the cluster with
// real tool calls (as the asking user) and reports what it saw. It is not intelligent;
// it shows the whole path. Pass --model-config to use a real catalog instead.

var (
	demoNamespaceRE = regexp.MustCompile(`created in namespace "([^"]+)"`)
	demoRequester   = regexp.MustCompile(`act as the Kubernetes user "([^"]+)"`)
	demoScaleRE     = regexp.MustCompile(`(?i)scale (?:deployment )?([a-z0-9-]+) to (\d+)`)
)

// demoAnswer is the demo model's policy: one round of tool calls, then a report.
func demoAnswer(req llmtest.Request) llmtest.Reply {
	system := ""
	if len(req.Messages) > 0 && req.Messages[0].Role == "system" {
		system = req.Messages[0].Text()
	}
	ns, user := "default", "you"
	if m := demoNamespaceRE.FindStringSubmatch(system); m != nil {
		ns = m[1]
	}
	if m := demoRequester.FindStringSubmatch(system); m != nil {
		user = m[1]
	}
	prompt := ""
	for _, m := range req.Messages {
		if m.Role == "user" && !strings.HasPrefix(m.Text(), "[earlier") {
			prompt = m.Text()
		}
	}
	if results := req.ToolResults(); len(results) > 0 || len(req.Tools) == 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "Here is what I could see as **%s** in namespace `%s` (demo model: it calls tools and reports, it does not reason; configure a real model with `make dev MODEL_CONFIG=...`).\n\n", user, ns)
		for _, r := range results {
			fmt.Fprintf(&b, "```\n%s\n```\n\n", strings.TrimSpace(r.Text()))
		}
		return llmtest.Reply{Text: b.String()}
	}
	if m := demoScaleRE.FindStringSubmatch(prompt); m != nil {
		return llmtest.Reply{Calls: []llmtest.Call{{Name: "resources_scale",
			Args: fmt.Sprintf(`{"resource":"deployment","name":%q,"namespace":%q,"replicas":%s}`, m[1], ns, m[2])}}}
	}
	return llmtest.Reply{Calls: []llmtest.Call{
		{Name: "resources_list", Args: fmt.Sprintf(`{"resource":"pods","namespace":%q}`, ns)},
		{Name: "events_list", Args: fmt.Sprintf(`{"namespace":%q,"warningsOnly":true}`, ns)},
	}}
}

// startDemoModel starts the demo model and writes a model catalog for it.
func startDemoModel(stateDir string) (*llmtest.Server, string, error) {
	srv := llmtest.NewServer(demoAnswer)
	path := filepath.Join(stateDir, "model-config.yaml")
	catalog := fmt.Sprintf(`# Written by make dev: the demo model, served by hack/dev on loopback.
# The default profile allows Propose (and Auto), so that the README's
# kubectl ask --mode Propose works as written; queries stay ReadOnly unless their
# requester asks for more. A real catalog chooses its own (docs/agent.md).
defaultModel: demo
defaultProfile: operate
models:
- name: demo
  provider: openai
  model: demo
  baseURL: %s
profiles:
- name: operate
  description: Troubleshoot and, with approval, change things.
  modes: [ReadOnly, Propose, Auto]
`, srv.BaseURL())
	if err := os.WriteFile(path, []byte(catalog), 0o600); err != nil {
		srv.Close()
		return nil, "", err
	}
	return srv, path, nil
}
