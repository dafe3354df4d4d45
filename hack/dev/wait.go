package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// pollInterval is short because every wait is on the start-up path a developer watches.
const pollInterval = 200 * time.Millisecond

// waitFor calls check until it returns nil or ctx ends. On failure the error names what
// was awaited, the context's cause (a dead process, the start timeout) and the last
// check error, which usually says what is missing.
func waitFor(ctx context.Context, what string, check func(context.Context) error) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	var last error
	for {
		if last = check(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last attempt: %w)", what, context.Cause(ctx), last)
		case <-t.C:
		}
	}
}

// httpGetOK returns a check that GETs url and wants 200.
func httpGetOK(c *http.Client, url, bearer string) func(context.Context) error {
	return func(ctx context.Context) error {
		reqCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("building request for %s: %w", url, err)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
		}
		return nil
	}
}

// httpClientTrusting returns a client that verifies servers against caPEM.
func httpClientTrusting(caPEM []byte) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no certificate in the CA bundle")
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}, nil
}

// httpClientSelfSigned returns a client for the health endpoints of the controller
// manager and the scheduler. They serve a self-signed certificate they generate at
// start-up, which nothing could verify; the connection is to 127.0.0.1 and carries no
// credential, so skipping verification exposes nothing.
func httpClientSelfSigned() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}}} //nolint:gosec // G402: see above, nothing to verify and nothing to expose
}

// newPlainHTTPClient is for etcd and the manager's probes, which serve plain HTTP on
// loopback.
func newPlainHTTPClient() *http.Client { return &http.Client{} }
