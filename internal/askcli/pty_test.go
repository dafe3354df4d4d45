package askcli_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/kubeask/kubeask/internal/llm/llmtest"
)

// screen collects what a pseudo-terminal shows, as text without escape sequences.
type screen struct {
	mu  sync.Mutex
	raw strings.Builder
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07`)

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raw.Write(p)
}

func (s *screen) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ansi.ReplaceAllString(s.raw.String(), "")
}

// waitFor waits until the screen, from offset on, shows want; it returns the offset
// after it.
func (s *screen) waitFor(t *testing.T, from int, want string) int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		text := s.text()
		if i := strings.Index(text[min(from, len(text)):], want); i >= 0 {
			return from + i + len(want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the screen never showed %q; it shows:\n%s", want, text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInteractiveInATerminal runs the built plugin under a pseudo-terminal, as a person
// would: it types a question at the prompt and reads the screen.
func TestInteractiveInATerminal(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "kubectl-ask")
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build the plugin: %v", err)
	}
	build := exec.CommandContext(t.Context(), goBin, "build", "-o", bin, "github.com/kubeask/kubeask/cmd/kubectl-ask")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building kubectl-ask: %v\n%s", err, out)
	}

	prompt := "What runs in team-a right now?"
	scripts.Set(prompt, func(req llmtest.Request) llmtest.Reply {
		if res := req.ToolResults(); len(res) > 0 {
			if !strings.Contains(res[0].Text(), "checkout-1") {
				return llmtest.Reply{Text: "no pods seen: " + res[0].Text()}
			}
			return llmtest.Reply{Text: "## Running pods\n\nOnly **checkout-1** runs in team-a."}
		}
		time.Sleep(800 * time.Millisecond) // long enough for the spinner to show
		return llmtest.Reply{Calls: []llmtest.Call{{Name: "resources_list", Args: `{"resource":"pods","namespace":"team-a"}`}}}
	})

	cmd := exec.CommandContext(t.Context(), bin, "-i", "-s", "pty-chat", "--kubeconfig", kubeconfigs["alice"], "--cache-dir", cacheDir)
	cmd.Env = append(os.Environ(), "TERM=xterm-256color", "HOME="+t.TempDir())
	cmd.Env = slicesWithout(cmd.Env, "NO_COLOR")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tty.Close() }()
	scr := &screen{}
	go func() { _, _ = io.Copy(scr, tty) }()

	at := scr.waitFor(t, 0, "Created session pty-chat")
	at = scr.waitFor(t, at, "ask> ")
	if _, err := tty.Write([]byte(prompt + "\r")); err != nil {
		t.Fatal(err)
	}
	at = scr.waitFor(t, at, prompt) // the line editor echoes what is typed
	scr.waitFor(t, at, "thinking…")
	at = scr.waitFor(t, at, "✓ s1 kubectl get pods -n team-a")
	at = scr.waitFor(t, at, "└ 1 pod in namespace team-a")
	at = scr.waitFor(t, at, "Running pods")
	at = scr.waitFor(t, at, "Only checkout-1 runs in team-a.")
	if strings.Contains(scr.text(), "**checkout-1**") {
		t.Errorf("the answer was not rendered as markdown:\n%s", scr.text())
	}
	if !strings.Contains(scr.raw.String(), "\x1b[") {
		t.Error("no colour on a terminal")
	}
	scr.waitFor(t, at, "ask> ")
	if _, err := tty.Write([]byte("exit\r")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("kubectl ask -i did not exit cleanly: %v\n%s", err, scr.text())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("kubectl ask -i did not exit after \"exit\":\n%s", scr.text())
	}
}

func slicesWithout(env []string, name string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, name+"=") {
			out = append(out, e)
		}
	}
	return out
}
