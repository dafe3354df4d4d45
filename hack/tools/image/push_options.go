package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pushOptions are the flags of `image push`.
type pushOptions struct {
	Archive    string
	Repository string // host/repo, without a tag
	Tag        string
}

func (o *pushOptions) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Archive, "archive", o.Archive, "The OCI image layout tar `image build` wrote.")
	fs.StringVar(&o.Repository, "repository", o.Repository, "Repository to push to, host/repo (e.g. ghcr.io/kubeask/kubeask-manager).")
	fs.StringVar(&o.Tag, "tag", o.Tag, "Tag to push (the version).")
}

func (o *pushOptions) validate() error {
	if o.Archive == "" || o.Repository == "" || o.Tag == "" {
		return errors.New("--archive, --repository and --tag are required")
	}
	return nil
}

// run pushes with the credentials of the Docker and podman config files (docker login,
// podman login, credential helpers), as the registry tools of the ecosystem do.
func (o *pushOptions) run(ctx context.Context, stdout io.Writer) error {
	digest, err := push(ctx, o.Archive, o.Repository, o.Tag, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pushed %s:%s@%s\n", o.Repository, o.Tag, digest)
	return nil
}
