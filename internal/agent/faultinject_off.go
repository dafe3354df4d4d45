//go:build !faultinject

package agent

// InjectFaults does nothing: fault injection is built only with the faultinject tag,
// for the failover tests (see faultinject.go).
func InjectFaults(*Agent) {}
