//go:build !linux

package main

import "errors"

// The e2e node needs Linux namespaces, cgroups and runc.

func (o *options) spawnInNamespaces() error {
	return errors.New("make e2e runs on Linux only")
}

func runInit() error { return errors.New("make e2e runs on Linux only") }

func removeCgroups(string, map[string]bool) {}

func cgroupParents() map[string]bool { return nil }

func bindMount(string, string) error { return errors.New("make e2e runs on Linux only") }
