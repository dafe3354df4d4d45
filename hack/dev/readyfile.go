package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// readyInfo describes a ready environment. It is written as JSON to --ready-file so
// scripts and tests can find the kubeconfigs and check the processes.
type readyInfo struct {
	Server       string            `json:"server"`
	StateDir     string            `json:"stateDir"`
	Kubeconfigs  map[string]string `json:"kubeconfigs"` // by user: admin, alice, bob, manager
	SampleQuery  string            `json:"sampleQuery"`
	SamplesDir   string            `json:"samplesDir,omitempty"`   // config/samples, when it exists
	ManagerProbe string            `json:"managerProbe,omitempty"` // empty with --no-manager
	AuditLog     string            `json:"auditLog"`               // the API server's audit log (JSON lines)
	// ChartValues are the values charts/kubeask is installed with (.dev/values.yaml).
	ChartValues string `json:"chartValues"`
	// ManagerArgs is, with --no-manager, the command line to run the manager with.
	ManagerArgs []string `json:"managerArgs,omitempty"`
	// ModelKeySecrets are the Secrets of kubeask-system the manager may read model API
	// keys from (the --model-config catalog's apiKeySecretRef names).
	ModelKeySecrets []string       `json:"modelKeySecrets,omitempty"`
	Processes       []readyProcess `json:"processes"`
	StartupSeconds  float64        `json:"startupSeconds"`
}

type readyProcess struct {
	Name string `json:"name"`
	PID  int    `json:"pid"` // also the process-group id
	Log  string `json:"log"`
}

// writeReadyFile writes info atomically (temp file and rename), so a reader polling for
// the file never sees half of it.
func writeReadyFile(path string, info readyInfo) error {
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the ready file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ready-*")
	if err != nil {
		return fmt.Errorf("writing the ready file: %w", err)
	}
	_, werr := tmp.Write(append(data, '\n'))
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("writing the ready file %s: %w", path, errors.Join(werr, cerr))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("writing the ready file %s: %w", path, err)
	}
	return nil
}
