// Command image builds the kubeask-manager image without a container daemon, from Go
// modules (github.com/google/go-containerregistry), and pushes it. `make image` runs
// build.sh, which compiles the binaries and then `image build`; `make image-push` runs
// `image push`.
//
//	image build --payload DIR --platforms linux/amd64,linux/arm64 --version 0.1.0 ... --out FILE
//	image push --archive FILE --repository host/repo --tag 0.1.0
//
// It lives in its own module, so the operator's go.mod does not carry the registry
// client and its Docker credential helpers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// run dispatches a subcommand; the options are plain structs, parsed, validated, run.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: image build|push [flags] (-h for the flags)")
	}
	fs := flag.NewFlagSet("image "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch args[0] {
	case "build":
		o := newBuildOptions()
		o.addFlags(fs)
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if err := o.validate(); err != nil {
			return err
		}
		return o.run(stdout)
	case "push":
		o := &pushOptions{}
		o.addFlags(fs)
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if err := o.validate(); err != nil {
			return err
		}
		return o.run(ctx, stdout)
	default:
		return fmt.Errorf("unknown subcommand %q: build or push", args[0])
	}
}
