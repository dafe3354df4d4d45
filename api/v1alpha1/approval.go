package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// digestPrefix names the hash of a step digest, so that another hash can follow one day.
const digestPrefix = "sha256:"

// ArgumentsDigest is the digest of a proposed call: the SHA-256 of the tool's name and
// its exact arguments. An approval names it, so the approval is bound to exactly what
// the requester reviewed: another tool or other arguments give another digest.
func ArgumentsDigest(tool, arguments string) string {
	h := sha256.New()
	h.Write([]byte(tool))
	h.Write([]byte{0}) // tool names never contain NUL: "ab"+"c" and "a"+"bc" differ
	h.Write([]byte(arguments))
	return digestPrefix + hex.EncodeToString(h.Sum(nil))
}

// ApprovalFor is the spec.approvals entry that approves step s as recorded:
// "<id>@<digest>". It is empty for a step without a digest, which cannot be approved.
func ApprovalFor(s Step) string {
	if s.Digest == "" {
		return ""
	}
	return s.ID + "@" + s.Digest
}

// SplitApproval splits a spec.approvals entry into the step id and the digest it names
// (empty when the entry has none).
func SplitApproval(a string) (id, digest string) {
	id, digest, _ = strings.Cut(a, "@")
	return id, digest
}

// Denies reports whether the requester denied step id.
func (q *AgentQuery) Denies(id string) bool {
	return slices.Contains(q.Spec.Denials, id)
}

// Approves reports whether the requester approved step s with the digest recorded in
// status. The agent does not stop there: before it runs the step it checks that the
// approval's digest is the digest of the arguments it is about to run.
func (q *AgentQuery) Approves(s Step) bool {
	a := ApprovalFor(s)
	return a != "" && slices.Contains(q.Spec.Approvals, a)
}

// Decides reports whether the requester decided on proposed step s: denied it, or
// approved it as it is recorded. An approval naming other arguments decides nothing.
func (q *AgentQuery) Decides(s Step) bool {
	return q.Denies(s.ID) || q.Approves(s)
}

// HasDecisionOn reports whether the spec denies step id or holds an approval that names
// it, whatever its digest. Such a step needs the agent's attention: to run it, to record
// the denial, or to say that the approval names other arguments than the proposed ones.
func (q *AgentQuery) HasDecisionOn(id string) bool {
	if q.Denies(id) {
		return true
	}
	return slices.ContainsFunc(q.Spec.Approvals, func(a string) bool {
		approved, _ := SplitApproval(a)
		return approved == id
	})
}
