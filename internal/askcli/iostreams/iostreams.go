// Package iostreams is the plugin's view of its standard streams: where to read and
// write, and whether each is a terminal (which decides spinners, colours and markdown
// rendering). Commands get an *IOStreams passed down; nothing reads os.Stdout directly.
package iostreams

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are the standard streams of one invocation.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	// The terminal flags, decided once when the streams are made.
	InTTY, OutTTY, ErrTTY bool
	// Color is true when output may contain ANSI colour (a terminal and no NO_COLOR).
	Color bool
	// Width is the terminal's width in columns (80 when unknown).
	Width int
}

// System returns the process's streams, detecting terminals.
func System() *IOStreams {
	s := &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		InTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		OutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		ErrTTY: term.IsTerminal(int(os.Stderr.Fd())),
		Width:  80,
	}
	if s.OutTTY {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil && w > 0 {
			s.Width = w
		}
	}
	_, noColor := os.LookupEnv("NO_COLOR")
	s.Color = s.OutTTY && !noColor && os.Getenv("TERM") != "dumb"
	return s
}

// Test returns streams backed by buffers, none of them a terminal, and the buffers.
func Test(stdin string) (s *IOStreams, out, errOut *bytes.Buffer) {
	out, errOut = &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: bytes.NewBufferString(stdin), Out: out, ErrOut: errOut, Width: 80}, out, errOut
}

// Fd returns the file descriptor behind r when it is an *os.File.
func Fd(r any) (int, bool) {
	if f, ok := r.(interface{ Fd() uintptr }); ok {
		return int(f.Fd()), true
	}
	return 0, false
}
