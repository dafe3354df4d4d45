package catalog

import (
	"fmt"
	"strings"
)

// Reason classifies an Error; the values are CamelCase so the controller can use them
// as a condition reason as they are.
type Reason string

const (
	// ReasonUnknownModel: the session or query names a model the catalog lacks.
	ReasonUnknownModel Reason = "UnknownModel"
	// ReasonUnknownProfile: the session or query names a profile the catalog lacks.
	ReasonUnknownProfile Reason = "UnknownProfile"
	// ReasonAPIKeyUnavailable: the model's API key Secret cannot be read.
	ReasonAPIKeyUnavailable Reason = "APIKeyUnavailable" //nolint:gosec // G101: a condition reason, not a credential
	// ReasonModelMisconfigured: the catalog entry cannot make a client.
	ReasonModelMisconfigured Reason = "ModelMisconfigured"
)

// Error is a catalog lookup or client-building failure a user or the platform team
// can act on.
type Error struct {
	Reason Reason
	// Name is the model or profile concerned.
	Name string
	// Known lists the valid names, for unknown-name errors.
	Known []string
	Err   error
}

func (e *Error) Error() string {
	switch e.Reason {
	case ReasonUnknownModel, ReasonUnknownProfile:
		what := "model"
		if e.Reason == ReasonUnknownProfile {
			what = "profile"
		}
		if e.Name == "" {
			return fmt.Sprintf("the model catalog has no default %s", what)
		}
		known := "none"
		if len(e.Known) > 0 {
			known = strings.Join(e.Known, ", ")
		}
		return fmt.Sprintf("the model catalog has no %s %q (available: %s)", what, e.Name, known)
	case ReasonAPIKeyUnavailable:
		return fmt.Sprintf("the API key of model %q is unavailable: %v", e.Name, e.Err)
	default:
		return fmt.Sprintf("model %q is misconfigured in the model catalog: %v", e.Name, e.Err)
	}
}

func (e *Error) Unwrap() error { return e.Err }
