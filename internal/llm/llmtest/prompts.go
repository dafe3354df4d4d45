package llmtest

import (
	"strings"
	"sync"
)

// Prompts dispatches a fake model's answers by the query's prompt, so that each test
// scripts its own conversation on one shared server: NewServer(prompts.Answer).
type Prompts struct {
	mu       sync.Mutex
	byPrompt map[string]func(Request) Reply
}

// NewPrompts returns an empty dispatcher.
func NewPrompts() *Prompts {
	return &Prompts{byPrompt: map[string]func(Request) Reply{}}
}

// Set scripts the conversations whose prompt is prompt.
func (p *Prompts) Set(prompt string, f func(Request) Reply) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.byPrompt[prompt] = f
}

// Answer answers req with the script of its prompt.
func (p *Prompts) Answer(req Request) Reply {
	prompt := PromptOf(req)
	p.mu.Lock()
	f := p.byPrompt[prompt]
	p.mu.Unlock()
	if f == nil {
		return Reply{Text: "no script for prompt " + prompt}
	}
	return f(req)
}

// PromptOf is the query's prompt: the last user message that is neither an earlier
// session turn nor a note the agent adds (the step limit, a malformed call).
func PromptOf(req Request) string {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		m := req.Messages[i]
		t := m.Text()
		if m.Role == "user" && !strings.HasPrefix(t, "[earlier in this session") && !strings.HasPrefix(t, "The step limit") && !strings.HasPrefix(t, "Your last tool call") {
			return t
		}
	}
	return ""
}
