package cmdargs

import (
	"regexp"
	"strings"
	"time"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/askcli/exitcode"
)

// catalogName is the pattern of model and profile names (the CRD's).
var catalogName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$`)

// ParseMode returns the mode s names, in any case, or nil when it names none.
func ParseMode(s string) *agentsv1alpha1.Mode {
	for _, m := range []agentsv1alpha1.Mode{agentsv1alpha1.ModeReadOnly, agentsv1alpha1.ModePropose, agentsv1alpha1.ModeAuto} {
		if strings.EqualFold(string(m), s) {
			return &m
		}
	}
	return nil
}

// QueryFlags are the flags that shape a query: those of kubectl ask, and those of the
// triggers kubectl ask on and every set up.
type QueryFlags struct {
	Mode           string
	Timeout        time.Duration
	MaxSteps       int32
	Model, Profile string
}

// Validate checks them as the CRD will, so a mistake is a usage error (exit code 2)
// before anything is sent.
func (f QueryFlags) Validate() error {
	switch {
	case f.Mode != "" && ParseMode(f.Mode) == nil:
		return exitcode.UsageErrorf("--mode must be ReadOnly, Propose or Auto, not %q", f.Mode)
	case f.Timeout != 0 && (f.Timeout < 10*time.Second || f.Timeout > time.Hour):
		return exitcode.UsageErrorf("--timeout must be between 10s and 1h, not %s", f.Timeout)
	case f.MaxSteps < 0 || f.MaxSteps > agentsv1alpha1.MaxSteps:
		return exitcode.UsageErrorf("--max-steps must be between 1 and %d", agentsv1alpha1.MaxSteps)
	case f.Model != "" && !catalogName.MatchString(f.Model):
		return exitcode.UsageErrorf("--model %q is not a catalog name (lower-case letters, digits, '-', '.', '_')", f.Model)
	case f.Profile != "" && !catalogName.MatchString(f.Profile):
		return exitcode.UsageErrorf("--profile %q is not a profile name (lower-case letters, digits, '-', '.', '_')", f.Profile)
	}
	return nil
}
