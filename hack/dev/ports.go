package main

import (
	"fmt"
	"net"
)

// freePorts returns n distinct loopback TCP ports that were free a moment ago. All
// listeners stay open until every port is chosen, so the kernel cannot hand out the same
// port twice; a process racing us for a port between Close and our child's bind is
// possible but rare on a developer machine, and shows up as a clear "address in use"
// in that child's log.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
