package agent

import (
	"context"
	"errors"
	"net"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// transientAPIError reports whether err, from one of the operator's own API requests,
// may succeed when sent again: the API server throttled it, was briefly unavailable or
// overloaded, or the connection failed. Everything else (invalid, forbidden, not
// found, conflict) gets the same answer again and is not retried.
func transientAPIError(err error) bool {
	if err == nil {
		return false
	}
	var netErr net.Error
	switch {
	case apierrors.IsTooManyRequests(err), apierrors.IsServerTimeout(err), apierrors.IsTimeout(err),
		apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err), apierrors.IsUnexpectedServerError(err):
		return true
	case utilnet.IsConnectionRefused(err), utilnet.IsConnectionReset(err), utilnet.IsProbableEOF(err):
		return true
	case errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled):
		// A request's own timeout; a cancelled context is the caller stopping.
		return true
	case errors.As(err, &netErr) && netErr.Timeout():
		return true
	}
	return false
}
