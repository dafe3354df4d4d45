package llm

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// A refused connection is not reported as an overloaded provider (issue 15 §9).
func TestErrorMessageSaysWhatHappened(t *testing.T) {
	_, refused := net.Dial("tcp", "127.0.0.1:1")
	if refused == nil {
		t.Skip("something listens on 127.0.0.1:1")
	}
	tests := []struct {
		name    string
		err     *Error
		want    string
		notWant string
	}{
		{"refused connection", FromError("openai", refused), "openai: the provider could not be reached; check that it runs and the base URL in the model catalog: dial tcp 127.0.0.1:1", "overloaded"},
		{"503", Classify(HTTPFailure{Provider: "openai", StatusCode: 503, Message: "busy"}), "openai: the provider is unavailable or overloaded (HTTP 503): busy", "could not be reached"},
		{"unavailable without a cause", &Error{Provider: "gemini", Kind: KindUnavailable}, "gemini: the provider is unavailable or overloaded", "could not be reached"},
		{"timeout", FromError("openai", errors.Join(errTimeout{})), "openai: the model did not answer in time", "overloaded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.err.Error()
			if !strings.HasPrefix(got, tt.want) || strings.Contains(got, tt.notWant) {
				t.Errorf("Error() = %q, want it to start with %q and not say %q", got, tt.want, tt.notWant)
			}
		})
	}
}

type errTimeout struct{}

func (errTimeout) Error() string   { return "i/o timeout" }
func (errTimeout) Timeout() bool   { return true }
func (errTimeout) Temporary() bool { return true }
