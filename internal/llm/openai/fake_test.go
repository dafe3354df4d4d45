package openai

import (
	"testing"

	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// The fake endpoint is llmtest.Scripted: canned answers in order, every request
// recorded for assertions on the wire format, and every conversation checked with the
// rules of the real API (llmtest.OpenAI), so a request OpenAI would refuse fails here too.
type (
	reply    = llmtest.Canned
	received = llmtest.Recorded
)

func newFake(t *testing.T, script ...reply) *llmtest.Scripted {
	t.Helper()
	return llmtest.NewScripted(t, llmtest.OpenAI, script...)
}
