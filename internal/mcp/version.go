package mcp

import (
	"context"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// FallbackProtocolVersion is what the endpoint answers an initialize request whose
// protocolVersion it does not support, empty or unknown: the newest version that
// widespread clients accept. The specification lets a server answer another version
// it supports when it cannot honour the request, and the client then decides whether
// it can go on. kubectl-ai (github.com/mark3labs/mcp-go v0.41) sends an empty version
// and refuses any answer newer than 2025-06-18; current SDKs (mcp-go, the Go and
// TypeScript SDKs) still accept 2025-06-18. Clients that ask for a version the SDK
// supports, newer ones included, get the SDK's own negotiation.
const FallbackProtocolVersion = "2025-06-18"

// initializeVersion is the protocolVersion the endpoint negotiates from: the requested
// one when the SDK supports it, FallbackProtocolVersion otherwise.
func initializeVersion(requested string) string {
	if slices.Contains(mcp.SupportedProtocolVersions(), requested) {
		return requested
	}
	return FallbackProtocolVersion
}

// negotiateVersion is receiving middleware that replaces an unsupported protocolVersion
// of an initialize request with FallbackProtocolVersion before the SDK answers it
// (the SDK would answer its newest handshake version, which older clients refuse).
func negotiateVersion(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method == "initialize" {
			if p, ok := req.GetParams().(*mcp.InitializeParams); ok && p != nil {
				p.ProtocolVersion = initializeVersion(p.ProtocolVersion)
			}
		}
		return next(ctx, method, req)
	}
}
