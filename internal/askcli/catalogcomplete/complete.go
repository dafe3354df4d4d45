// Package catalogcomplete completes kubectl ask's --model, --profile and --mode from the
// catalog the operator publishes (the ConfigMap catalog.PublicConfigMap of its
// namespace), read with the user's kubeconfig and filtered for the user and groups a
// SelfSubjectReview names. When it cannot be read, nothing is offered.
package catalogcomplete

import (
	"context"
	"os"
	"time"

	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeask/kubeask/internal/askcli/kube"
	"github.com/kubeask/kubeask/internal/llm/catalog"
)

// NamespaceEnv overrides DefaultNamespace, where the operator publishes its catalog.
const (
	NamespaceEnv     = "KUBEASK_CATALOG_NAMESPACE"
	DefaultNamespace = "kubeask-system"
)

// Namespace is where completion looks for the published catalog.
func Namespace() string {
	if ns := os.Getenv(NamespaceEnv); ns != "" {
		return ns
	}
	return DefaultNamespace
}

// ForMe reads the catalog published in ns as c's user and keeps what that user may use.
func ForMe(ctx context.Context, c *kube.Client, ns string) (*catalog.Public, error) {
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: catalog.PublicConfigMap}, cm); err != nil {
		return nil, err
	}
	pub, err := catalog.ParsePublic(cm.Data[catalog.PublicKey])
	if err != nil {
		return nil, err
	}
	review := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err != nil {
		return nil, err
	}
	u := review.Status.UserInfo
	return pub.For(u.Username, u.Groups), nil
}

// Register completes cmd's own --model, --profile and --mode flags, those it has.
func Register(cmd *cobra.Command, connect func() (*kube.Client, error)) {
	complete := func(names func(*catalog.Public) []cobra.Completion) cobra.CompletionFunc {
		return func(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			c, err := connect()
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
			defer cancel()
			mine, err := ForMe(ctx, c, Namespace())
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return names(mine), cobra.ShellCompDirectiveNoFileComp
		}
	}
	for _, name := range []string{"model", "profile", "mode"} {
		if cmd.LocalNonPersistentFlags().Lookup(name) == nil {
			return
		}
	}
	_ = cmd.RegisterFlagCompletionFunc("model", complete(func(p *catalog.Public) (out []cobra.Completion) {
		for _, m := range p.Models {
			out = append(out, m.Name)
		}
		return out
	}))
	_ = cmd.RegisterFlagCompletionFunc("profile", complete(func(p *catalog.Public) (out []cobra.Completion) {
		for _, pr := range p.Profiles {
			out = append(out, cobra.CompletionWithDesc(pr.Name, pr.Description))
		}
		return out
	}))
	_ = cmd.RegisterFlagCompletionFunc("mode", complete(func(p *catalog.Public) (out []cobra.Completion) {
		for _, m := range p.AllowedModes {
			out = append(out, string(m))
		}
		return out
	}))
}
