package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// The demo model is hack/dev's idea (a local server speaking the OpenAI protocol that
// makes real tool calls as the asking user and reports what it saw), run by the driver
// inside the namespace. hack/dev's answer function lives in a main package, so this is
// its own, smaller script; the wire protocol is llmtest's, shared with the tests.

// slowPrompt marks a query whose model answers take slowReply each: longer than the
// rolling update takes to stop the old leader (surge pod Ready, then the old pods get
// SIGTERM and 10 s of grace), so that the upgrade really interrupts the query and the
// new leader has to finish it.
const (
	slowPrompt = "[slow]"
	slowReply  = 30 * time.Second
)

func demoAnswer(req llmtest.Request) llmtest.Reply {
	ns, prompt := "default", ""
	if len(req.Messages) > 0 && req.Messages[0].Role == "system" {
		if m := regexp.MustCompile(`created in namespace "([^"]+)"`).FindStringSubmatch(req.Messages[0].Text()); m != nil {
			ns = m[1]
		}
	}
	for _, m := range req.Messages {
		if m.Role == "user" {
			prompt = m.Text()
		}
	}
	if strings.Contains(prompt, slowPrompt) {
		select {
		case <-time.After(slowReply):
		case <-req.Context.Done():
			return llmtest.Reply{}
		}
	}
	if results := req.ToolResults(); len(results) > 0 || len(req.Tools) == 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "Demo model: here is what I saw in namespace %s.\n\n", ns)
		for _, r := range results {
			fmt.Fprintf(&b, "```\n%s\n```\n", strings.TrimSpace(r.Text()))
		}
		return llmtest.Reply{Text: b.String()}
	}
	return llmtest.Reply{Calls: []llmtest.Call{
		{Name: "resources_list", Args: fmt.Sprintf(`{"resource":"pods","namespace":%q}`, ns)},
	}}
}

// startDemoModel starts the demo model and returns the base URL pods use: the node
// address, forwarded to the server's loopback listener (httptest listens on loopback
// only, which pods cannot reach).
func (r *runner) startDemoModel() (string, error) {
	srv := llmtest.NewServer(demoAnswer)
	r.model = srv
	// A slow answer may be in flight at the end; drop it instead of waiting for it.
	r.cleanups = append(r.cleanups, func() { srv.CloseClientConnections(); srv.Close() })
	l, err := net.Listen("tcp", nodeIP+":0")
	if err != nil {
		return "", err
	}
	r.cleanups = append(r.cleanups, func() { _ = l.Close() })
	target := srv.Listener.Addr().String()
	go forward(l, target)
	return "http://" + l.Addr().String() + "/v1", nil
}

// forward copies each connection accepted on l to target, both ways, until l closes.
func forward(l net.Listener, target string) {
	for {
		in, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer func() { _ = in.Close() }()
			out, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(context.Background(), "tcp", target)
			if err != nil {
				return
			}
			defer func() { _ = out.Close() }()
			done := make(chan struct{}, 2)
			cp := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				done <- struct{}{}
			}
			go cp(out, in)
			go cp(in, out)
			<-done
			<-done
		}()
	}
}
