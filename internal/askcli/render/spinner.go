package render

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Spinner shows that something is happening on a terminal, and lets lines be printed
// above it without garbling. On a non-terminal it is silent (Println still prints).
// Its methods are safe to call from several goroutines.
type Spinner struct {
	w       io.Writer
	enabled bool

	mu      sync.Mutex
	msg     string
	frame   int
	visible bool
	stop    chan struct{}
	done    chan struct{}
}

var frames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// NewSpinner returns a spinner writing to w; enabled says whether w is a terminal.
func NewSpinner(w io.Writer, enabled bool) *Spinner {
	return &Spinner{w: w, enabled: enabled}
}

// Start shows msg with a spinning mark until Stop. Calling it again changes the message.
func (s *Spinner) Start(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msg = msg
	if !s.enabled || s.stop != nil {
		return
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.spin(s.stop, s.done)
}

func (s *Spinner) spin(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		s.draw()
		s.mu.Unlock()
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// draw paints the spinner line; the caller holds mu.
func (s *Spinner) draw() {
	s.frame = (s.frame + 1) % len(frames)
	fmt.Fprintf(s.w, "\r\x1b[K%s %s", frames[s.frame], s.msg)
	s.visible = true
}

// clear erases the spinner line; the caller holds mu.
func (s *Spinner) clear() {
	if s.visible {
		fmt.Fprint(s.w, "\r\x1b[K")
		s.visible = false
	}
}

// Println prints a line above the spinner.
func (s *Spinner) Println(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clear()
	fmt.Fprintln(s.w, line)
	if s.stop != nil {
		s.draw()
	}
}

// Stop removes the spinner. It is safe to call when it was never started.
func (s *Spinner) Stop() {
	s.mu.Lock()
	stop, done := s.stop, s.done
	s.stop, s.done = nil, nil
	s.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-done
	s.mu.Lock()
	s.clear()
	s.mu.Unlock()
}
