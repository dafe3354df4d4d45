// Command mcpgo is an MCP client built with github.com/mark3labs/mcp-go, the SDK of
// kubectl-ai. The endpoint's tests build it twice, with go.mod (the latest mcp-go) and
// with kubectl-ai.mod (the version kubectl-ai pins), and run it against the endpoint:
// it connects with a bearer token over streamable HTTP or SSE, initializes, lists the
// tools, calls one, and prints what it got as one JSON object.
//
// With -protocol "" it initializes exactly as kubectl-ai does (pkg/mcp/client.go): an
// empty InitializeRequest, so no protocolVersion and no clientInfo.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

type report struct {
	ProtocolVersion string   `json:"protocolVersion"`
	Server          string   `json:"server"`
	Tools           []string `json:"tools"`
	IsError         bool     `json:"isError"`
	Text            string   `json:"text"`
	Structured      any      `json:"structured,omitempty"`
}

func main() {
	url := flag.String("url", "", "the endpoint: .../mcp or .../sse")
	kind := flag.String("transport", "http", "http (streamable HTTP) or sse")
	token := flag.String("token", "", "bearer token")
	protocol := flag.String("protocol", "", `protocolVersion to ask for; "" initializes like kubectl-ai, "latest" asks for the SDK's newest`)
	tool := flag.String("tool", "", "tool to call")
	args := flag.String("args", "{}", "the tool's arguments, JSON")
	flag.Parse()
	if err := run(*url, *kind, *token, *protocol, *tool, *args); err != nil {
		fmt.Fprintln(os.Stderr, "mcpgo:", err)
		os.Exit(1)
	}
}

func run(url, kind, token, protocol, tool, rawArgs string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	headers := map[string]string{}
	if token != "" {
		headers["Authorization"] = "Bearer " + token
	}
	var c *client.Client
	var err error
	switch kind {
	case "http":
		// As kubectl-ai's createStreamingClient: the token as a static header.
		c, err = client.NewStreamableHttpClient(url, transport.WithHTTPHeaders(headers))
	case "sse":
		c, err = client.NewSSEMCPClient(url, client.WithHeaders(headers))
	default:
		err = fmt.Errorf("unknown transport %q", kind)
	}
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	var req mcp.InitializeRequest
	switch protocol {
	case "":
	case "latest":
		req.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
		req.Params.ClientInfo = mcp.Implementation{Name: "mcpgo-test", Version: "v0"}
	default:
		req.Params.ProtocolVersion = protocol
		req.Params.ClientInfo = mcp.Implementation{Name: "mcpgo-test", Version: "v0"}
	}
	init, err := c.Initialize(ctx, req)
	if err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	out := report{ProtocolVersion: init.ProtocolVersion, Server: init.ServerInfo.Name, Tools: []string{}}
	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return fmt.Errorf("tools/list: %w", err)
	}
	for _, t := range tools.Tools {
		out.Tools = append(out.Tools, t.Name)
	}
	if tool != "" {
		var arguments map[string]any
		if err := json.Unmarshal([]byte(rawArgs), &arguments); err != nil {
			return fmt.Errorf("-args: %w", err)
		}
		var call mcp.CallToolRequest
		call.Params.Name = tool
		call.Params.Arguments = arguments
		res, err := c.CallTool(ctx, call)
		if err != nil {
			return fmt.Errorf("tools/call %s: %w", tool, err)
		}
		out.IsError, out.Structured = res.IsError, res.StructuredContent
		for _, content := range res.Content {
			if text, ok := mcp.AsTextContent(content); ok {
				out.Text += text.Text
			}
		}
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}
