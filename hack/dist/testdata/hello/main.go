// Command hello stands in for kubectl-ask in dist's tests: it builds in seconds for
// any platform and prints the version the linker stamped, as kubectl-ask does.
package main

import (
	"fmt"

	"github.com/kubeask/kubeask/internal/version"
)

func main() { fmt.Println("kubectl-ask", version.String()) }
