package ask

import (
	"bufio"
	"io"

	"golang.org/x/term"

	"github.com/kubeask/kubeask/internal/askcli/iostreams"
)

// termReader edits lines on a terminal (arrows, history, Ctrl-A/E/K/U...) with
// golang.org/x/term. The terminal is raw only while a line is read, so that output and
// Ctrl-C behave normally while a question runs.
type termReader struct {
	fd int
	t  *term.Terminal
}

func newLineReader(s *iostreams.IOStreams) lineReader {
	fd, ok := iostreams.Fd(s.In)
	if !s.InTTY || !ok {
		return &plainReader{sc: bufio.NewScanner(s.In)}
	}
	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{s.In, s.Out}, "")
	if s.Width > 0 {
		_ = t.SetSize(s.Width, 24)
	}
	return &termReader{fd: fd, t: t}
}

func (r *termReader) ReadLine(prompt string) (string, error) {
	state, err := term.MakeRaw(r.fd)
	if err != nil {
		return "", err
	}
	defer func() { _ = term.Restore(r.fd, state) }()
	r.t.SetPrompt(prompt)
	return r.t.ReadLine()
}
