package agent

import (
	"encoding/json"
	"fmt"
	"strings"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/redact"
)

// A proposed change is recorded with its full arguments (step.fullArguments, bounded by
// MaxProposalLength, and by MaxProposalsLength for all the undecided ones of a query)
// and their digest (step.digest). The requester reviews the full arguments and approves
// "<id>@<digest>"; before the step runs, the agent computes the digest of the arguments
// it is about to run and runs them only if the requester approved that digest. So an
// approval runs exactly what was reviewed, whoever may have written the status since,
// and a change of any size runs whole, never cut to the 2 KiB that step.arguments keeps.
// The full arguments live in the query's status, where the requester (and whoever may
// read the query) can read them; they are dropped once the step is decided. So a change
// whose arguments carry credentials (anything redact.Arguments would hide) is not
// proposed at all.

// propose records call arguments args as step's proposal. It returns why the
// proposal cannot be recorded, for the model, or "".
func (r *run) propose(step *agentsv1alpha1.Step, args json.RawMessage) string {
	// Status holds strings: what runs is exactly the string recorded, so the digest is of
	// that string, never of bytes a JSON round trip would change.
	full := strings.ToValidUTF8(string(args), "\uFFFD")
	if len(full) > agentsv1alpha1.MaxProposalLength {
		return fmt.Sprintf("not proposed: the change is %d KiB, more than the %d KiB a proposal may hold. Propose it in smaller parts (one object per call).",
			len(full)>>10, agentsv1alpha1.MaxProposalLength>>10)
	}
	if redact.Arguments(full) != full {
		// The full arguments are kept in status until the decision, readable by whoever
		// may read the query: a change that carries credentials cannot wait there.
		return "not proposed: the change carries values that look like credentials (a Secret's data, a password, a token), and a proposal is kept in the query's status where others may read it. Do not put credentials in changes: tell the user what to create themselves (for example a Secret), or reference an existing one."
	}
	pending := 0
	for _, s := range r.st.Steps {
		pending += len(s.FullArguments)
	}
	if pending+len(full) > agentsv1alpha1.MaxProposalsLength {
		return fmt.Sprintf("not proposed: the changes already waiting for approval in this query hold %d KiB, and with this one they would exceed %d KiB. Wait for the requester's decision on them, then propose it.",
			pending>>10, agentsv1alpha1.MaxProposalsLength>>10)
	}
	step.FullArguments = full
	step.Digest = agentsv1alpha1.ArgumentsDigest(step.Tool, full)
	return ""
}

// approvedArguments returns the arguments to run for proposed step s, and true, when the
// requester approved exactly them: spec.approvals holds "<id>@<digest>" with the digest
// of the full arguments recorded for s, computed here, not read from status.
func approvedArguments(q *agentsv1alpha1.AgentQuery, s agentsv1alpha1.Step) (string, bool) {
	if s.FullArguments == "" {
		return "", false
	}
	want := agentsv1alpha1.ArgumentsDigest(s.Tool, s.FullArguments)
	for _, a := range q.Spec.Approvals {
		if id, digest := agentsv1alpha1.SplitApproval(a); id == s.ID && digest == want {
			return s.FullArguments, true
		}
	}
	return "", false
}

// approvalMismatch says why an approval that names step s does not run it, or "" when
// no approval names it.
func approvalMismatch(q *agentsv1alpha1.AgentQuery, s agentsv1alpha1.Step) string {
	for _, a := range q.Spec.Approvals {
		if id, digest := agentsv1alpha1.SplitApproval(a); id == s.ID {
			if s.FullArguments == "" {
				return fmt.Sprintf("step %s was approved, but its full arguments are not recorded, so it cannot run as approved: deny it and ask again", s.ID)
			}
			return fmt.Sprintf("the approval of step %s names other arguments (%s) than the ones proposed (%s), so it did not run: review the step and approve it again (kubectl ask approve)",
				s.ID, short(digest), short(agentsv1alpha1.ArgumentsDigest(s.Tool, s.FullArguments)))
		}
	}
	return ""
}

// short shortens a digest for messages.
func short(digest string) string {
	if len(digest) > len("sha256:")+12 {
		return digest[:len("sha256:")+12] + "…"
	}
	return digest
}
