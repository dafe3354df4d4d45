package proposal

import (
	"fmt"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// Entries are what deciding on steps writes into the query's spec: for a denial the step
// ids, for an approval each id bound to the digest of the arguments shown (what Show
// printed), so that the approval runs exactly those arguments and nothing else.
func Entries(steps []agentsv1alpha1.Step, approve bool) ([]string, error) {
	out := make([]string, 0, len(steps))
	for _, s := range steps {
		if !approve {
			out = append(out, s.ID)
			continue
		}
		a := agentsv1alpha1.ApprovalFor(s)
		if a == "" {
			return nil, fmt.Errorf("step %s records no digest of its arguments (it was proposed by an older kubeask), so it cannot be approved: deny it and ask again", s.ID)
		}
		out = append(out, a)
	}
	return out, nil
}
