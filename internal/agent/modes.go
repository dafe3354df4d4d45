package agent

import (
	"context"
	"fmt"
	"slices"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// checkInstallationMode fails the query when the installation does not allow mode
// (Agent.AllowedModes, from the chart's agent.allowedModes). The chart also grants the
// manager only the impersonated verbs those modes need; this check keeps the promise
// where RBAC is broader (legacy impersonation, a hand-written role). It runs on every
// run, so a query accepted before the list was narrowed does not go on in a mode that is
// no longer allowed. stop is true when the query failed here.
func (r *run) checkInstallationMode(ctx context.Context, mode agentsv1alpha1.Mode) (stop bool, err error) {
	if len(r.AllowedModes) == 0 || slices.Contains(r.AllowedModes, mode) {
		return false, nil
	}
	return true, r.fail(ctx, ConditionAccepted, ReasonModeNotAllowed,
		fmt.Sprintf("this installation does not allow mode %s: it allows %v (kubeask-manager --allowed-mode, chart value agent.allowedModes)", mode, r.AllowedModes))
}
