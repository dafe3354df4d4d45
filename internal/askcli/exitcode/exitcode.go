// Package exitcode defines the exit codes of kubectl ask, which scripts rely on, and
// the error type that carries one from a command to main.
package exitcode

import (
	"errors"
	"fmt"
)

// The exit codes. They are part of the plugin's interface: never renumber them.
const (
	// Answered: the query succeeded (or the command did what was asked).
	Answered = 0
	// Failed: the query failed, or the command could not do its work.
	Failed = 1
	// Usage: the command line is wrong; nothing was sent to the cluster.
	Usage = 2
	// AwaitingApproval: the query proposes a change and waits for `kubectl ask approve`.
	AwaitingApproval = 3
	// Cancelled: the query was cancelled or timed out, or the wait was interrupted.
	Cancelled = 4
	// NoOperator: the cluster does not serve the kubeask API.
	NoOperator = 5
)

// Error is an error with the exit code it should end the process with.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error that exits with code.
func New(code int, err error) error { return &Error{Code: code, Err: err} }

// Newf formats an error that exits with code.
func Newf(code int, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// Silent exits with code without printing anything more: the command already told the
// user what happened.
func Silent(code int) error { return &Error{Code: code} }

// UsageErrorf is a command-line mistake (exit 2).
func UsageErrorf(format string, args ...any) error { return Newf(Usage, format, args...) }

// Of returns the exit code for err: 0 for nil, the carried code for an *Error, and
// Failed for any other error.
func Of(err error) int {
	if err == nil {
		return Answered
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Failed
}

// Message is what to print for err, or "" when err is silent.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Err == nil {
		return ""
	}
	if err == nil {
		return ""
	}
	return err.Error()
}
