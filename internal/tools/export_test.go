package tools

import "time"

// ParseKubectlArgs exposes the kubectl argument check to the external tests.
func ParseKubectlArgs(args []string, haveStdin, allowSecretValues bool) (verb string, mutates bool, err error) {
	call, err := parseKubectlArgs(args, haveStdin, allowSecretValues)
	return call.verb, call.mutates(), err
}

// SetListPages sets how many rows one request of resources_list asks for and how
// many bytes its answer may have, until the test ends.
func SetListPages(t interface{ Cleanup(func()) }, rows, bytes int64) {
	oldRows, oldBytes := listPageSize, maxTablePageBytes
	listPageSize, maxTablePageBytes = rows, bytes
	t.Cleanup(func() { listPageSize, maxTablePageBytes = oldRows, oldBytes })
}

// SetClock makes the mapper read the time from now.
func (m *Mapper) SetClock(now func() time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = now
}
