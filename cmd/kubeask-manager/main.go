// Command kubeask-manager is the kubeask operator. It only builds the command; the
// work is in internal/manager.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	// AgentTrigger schedules name IANA time zones; the image has no zoneinfo files.
	_ "time/tzdata"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/kubeask/kubeask/internal/manager"
	"github.com/kubeask/kubeask/internal/version"
)

func main() {
	cl, code, done := parse(os.Args[1:], os.Stdout, os.Stderr)
	if done {
		os.Exit(code)
	}

	logger := zap.New(zap.UseFlagOptions(&cl.zap))
	ctrl.SetLogger(logger)
	cfg, err := cl.opts.RESTConfig()
	if err != nil {
		logger.Error(err, "loading kubeconfig")
		os.Exit(1)
	}
	ctx := ctrl.LoggerInto(ctrl.SetupSignalHandler(), logger)
	if err := cl.opts.Run(ctx, cfg); err != nil {
		logger.Error(err, "manager stopped")
		os.Exit(1)
	}
}

// commandLine is what the flags say.
type commandLine struct {
	opts    *manager.Options
	zap     zap.Options
	version bool
}

// parse reads the flags, completes and validates the options. When the process
// should stop without running the manager (--version, --help, a bad flag or option)
// it has printed what it had to and done is true, with the exit code: 0 for
// --version and --help, 2 for a usage error (as flag.ExitOnError did before).
func parse(args []string, stdout, stderr io.Writer) (cl *commandLine, code int, done bool) {
	cl = &commandLine{opts: manager.NewOptions()}
	fs := flag.NewFlagSet("kubeask-manager", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cl.opts.AddFlags(fs)
	cl.zap.BindFlags(fs)
	fs.BoolVar(&cl.version, "version", false, "Print the version and exit.")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cl, 0, true
		}
		return cl, 2, true // the flag package has printed the error and the usage
	}
	// --version answers before any validation, so that it works with whatever else is
	// on the command line (an image's default args, say).
	if cl.version {
		fmt.Fprintln(stdout, "kubeask-manager", version.String())
		return cl, 0, true
	}
	cl.opts.Complete()
	if err := cl.opts.Validate(); err != nil {
		fmt.Fprintln(stderr, err)
		return cl, 2, true
	}
	return cl, 0, false
}
