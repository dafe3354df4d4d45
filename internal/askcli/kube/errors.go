package kube

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	"github.com/kubeask/kubeask/internal/askcli/exitcode"
)

// InstallHint says how to install the operator; docs/install.md has the details.
const InstallHint = `Install the operator in this cluster, e.g.:
  helm install kubeask charts/kubeask --namespace kubeask-system --create-namespace
See docs/install.md.`

// Explain turns err, returned while doing verb on resource (e.g. "create",
// "agentqueries"), into an error that says what happened and what to do, carrying the
// exit code it deserves. Errors it cannot classify are wrapped unchanged (exit 1).
func (c *Client) Explain(err error, verb, resource string) error {
	if err == nil {
		return nil
	}
	where := fmt.Sprintf("context %q", c.Context)
	if c.Context == "" {
		where = c.Server
	}
	if NotInstalled(err) && resource == TriggersResource {
		// AgentTrigger came after the other kinds: an older kubeask lacks only it.
		return exitcode.Newf(exitcode.NoOperator,
			"kubeask is not installed in this cluster, or its version predates AgentTrigger (%s): the API server does not serve %s.%s/%s.\n%s",
			where, resource, "agents.kubeask.dev", "v1alpha1", InstallHint)
	}
	if NotInstalled(err) {
		return exitcode.Newf(exitcode.NoOperator,
			"kubeask is not installed in this cluster (%s): the API server does not serve %s.%s/%s.\n%s",
			where, resource, "agents.kubeask.dev", "v1alpha1", InstallHint)
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "failed calling webhook"):
		return exitcode.Newf(exitcode.Failed,
			"the kubeask admission webhook is unreachable (%s), so the API server refuses kubeask objects: %v\n"+
				"Check the operator: kubectl -n kubeask-system get pods (it serves the webhook), or install the admission policies instead (docs/install.md).",
			where, err)
	case apierrors.IsForbidden(err) && isRBACDenial(msg):
		return exitcode.Newf(exitcode.Failed,
			"%v\nYou need the RBAC permission %q on %s.agents.kubeask.dev in namespace %s (and get, list, watch to follow a query). Ask your cluster admin for a RoleBinding that grants it.",
			err, verb, resource, c.Namespace)
	case apierrors.IsForbidden(err) || apierrors.IsInvalid(err):
		return exitcode.Newf(exitcode.Failed, "the API server refused to %s %s: %s", verb, resource, apiMessage(err))
	case apierrors.IsUnauthorized(err):
		return exitcode.Newf(exitcode.Failed, "the API server (%s) rejected your credentials: log in again or check your kubeconfig: %v", where, err)
	case isUnreachable(err):
		return exitcode.Newf(exitcode.Failed, "cannot reach the API server of %s (%s): %v", where, c.Server, err)
	}
	return fmt.Errorf("%s %s: %w", verb, resource, err)
}

// NotInstalled reports whether err says the cluster does not serve the kubeask API.
func NotInstalled(err error) bool {
	if meta.IsNoMatchError(err) {
		return true
	}
	var gdf *discovery.ErrGroupDiscoveryFailed
	if errors.As(err, &gdf) {
		for gv := range gdf.Groups {
			if gv.Group == "agents.kubeask.dev" {
				return true
			}
		}
	}
	// A 404 without an object name is the path itself missing: the CRD is not there.
	var status apierrors.APIStatus
	if apierrors.IsNotFound(err) && errors.As(err, &status) {
		d := status.Status().Details
		return d == nil || d.Name == ""
	}
	return false
}

// isRBACDenial tells RBAC's "User x cannot create resource y" from an admission denial.
func isRBACDenial(msg string) bool {
	return strings.Contains(msg, " cannot ") && strings.Contains(msg, "resource \"")
}

func apiMessage(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Message
	}
	return err.Error()
}

func isUnreachable(err error) bool {
	var ue *url.Error
	var oe *net.OpError
	return errors.As(err, &ue) || errors.As(err, &oe)
}

// QueriesResource, SessionsResource and TriggersResource name the kubeask resources in
// messages.
const (
	QueriesResource  = "agentqueries"
	SessionsResource = "agentsessions"
	TriggersResource = "agenttriggers"
)

// GroupResource of the kubeask resources, for NotFound checks.
var (
	QueryGR   = schema.GroupResource{Group: "agents.kubeask.dev", Resource: QueriesResource}
	SessionGR = schema.GroupResource{Group: "agents.kubeask.dev", Resource: SessionsResource}
)
