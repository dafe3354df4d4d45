package kube

import (
	"errors"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubeask/kubeask/internal/askcli/exitcode"
)

func TestExplain(t *testing.T) {
	c := &Client{Context: "prod", Namespace: "team-a", Server: "https://k"}
	gr := schema.GroupResource{Group: "agents.kubeask.dev", Resource: "agentqueries"}
	tests := []struct {
		name string
		err  error
		code int
	}{
		{"no kind", &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "agents.kubeask.dev", Kind: "AgentQuery"}}, exitcode.NoOperator},
		{"no path", apierrors.NewNotFound(schema.GroupResource{}, ""), exitcode.NoOperator},
		{"no object", apierrors.NewNotFound(gr, "ask-1"), exitcode.Failed},
		{"rbac", apierrors.NewForbidden(gr, "", errors.New(`User "carol" cannot create resource "agentqueries" in API group "agents.kubeask.dev"`)), exitcode.Failed},
		{"webhook", apierrors.NewInternalError(errors.New(`failed calling webhook "vagentquery.kubeask.dev": connection refused`)), exitcode.Failed},
	}
	for _, tt := range tests {
		if got := exitcode.Of(c.Explain(tt.err, "create", QueriesResource)); got != tt.code {
			t.Errorf("%s: exit %d, want %d (%v)", tt.name, got, tt.code, c.Explain(tt.err, "create", QueriesResource))
		}
	}
}
