// Command kubeask-manager is the kubeask operator. It only builds the command; the
// work is in internal/manager.
package main

import (
	"flag"
	"fmt"
	"os"

	// AgentTrigger schedules name IANA time zones; the image has no zoneinfo files.
	_ "time/tzdata"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/kubeask/kubeask/internal/manager"
)

func main() {
	fs := flag.NewFlagSet("kubeask-manager", flag.ExitOnError)
	opts := manager.NewOptions()
	opts.AddFlags(fs)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	_ = fs.Parse(os.Args[1:]) // ExitOnError: Parse exits on a bad flag

	logger := zap.New(zap.UseFlagOptions(&zapOpts))
	ctrl.SetLogger(logger)
	opts.Complete()
	if err := opts.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	cfg, err := opts.RESTConfig()
	if err != nil {
		logger.Error(err, "loading kubeconfig")
		os.Exit(1)
	}
	ctx := ctrl.LoggerInto(ctrl.SetupSignalHandler(), logger)
	if err := opts.Run(ctx, cfg); err != nil {
		logger.Error(err, "manager stopped")
		os.Exit(1)
	}
}
