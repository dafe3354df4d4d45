// Command pause is the sandbox ("pause") container of the e2e node: it holds a pod's
// namespaces and does nothing else until it is told to stop. It is built here because
// the node never pulls images from the internet (registry.k8s.io/pause included).
//
// The e2e workloads run the same image with arguments, which it prints first, so that a
// pod has real logs; "crash" as the first argument exits with status 1 after printing,
// which makes a pod crash-loop the way a broken application does.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	// As PID 1 of the sandbox it gets no default signal handling from the kernel, so it
	// must catch SIGTERM and SIGINT itself or the runtime would always have to SIGKILL it.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	if len(os.Args) > 1 {
		fmt.Println(strings.Join(os.Args[1:], " "))
		if os.Args[1] == "crash" {
			os.Exit(1)
		}
	}
	<-sig
}
