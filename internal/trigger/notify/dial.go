package notify

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"
)

// errLinkLocal is why a delivery to a link-local address is refused.
var errLinkLocal = errors.New("refused to connect to a link-local address (such as a cloud metadata service)")

// NewClient returns the HTTP client the manager delivers with. A trigger's author
// chooses the URL, and the operator's pod may reach addresses its author cannot: the
// dialer refuses link-local and unspecified addresses (169.254.169.254 serves cloud
// credentials on most providers), checked on the address actually dialled, after DNS,
// so a name that resolves there is refused too. Anything stricter (only some hosts)
// is an egress NetworkPolicy's job.
func NewClient() *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: refuseLinkLocal}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = dialer.DialContext
	transport.Proxy = nil // a proxy would dial for us, past the check
	return &http.Client{Transport: transport}
}

func refuseLinkLocal(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("dialling %q: %w", address, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() {
		return errLinkLocal
	}
	return nil
}
