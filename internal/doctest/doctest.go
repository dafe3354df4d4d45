// Package doctest runs the shell blocks of the project's markdown pages, so that every
// command the README and docs/ show keeps working: test/install runs docs/install.md's
// against an install cluster, hack/dev's TestDocs runs README.md's, docs/dev.md's and
// docs/kubectl-ask.md's against the make dev environment.
//
// A fenced block whose info string is "sh" is run; "sh TAG" is skipped for TAG's reason,
// which the caller lists. Any other shell marking (bash, shell, console, an unknown tag)
// is an error, so that no command escapes the test. In a run block, a command whose
// comment says "# exit N" must exit with N (any other command with 0), and one whose
// comment says "# prints TEXT" must print TEXT on standard output.
package doctest

import (
	"bufio"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Block is one fenced shell block of a markdown page.
type Block struct {
	Line int    // of the opening fence, 1-based
	Tag  string // after "sh ", empty for a plain sh block
	Text string
}

// ShellBlocks returns the page's fenced shell blocks; reasons are the tags a block may
// carry, each with why it is not run.
func ShellBlocks(page string, reasons map[string]string) ([]Block, error) {
	var blocks []Block
	var cur *Block   // the open shell block
	inOther := false // inside a block of YAML or output: nothing to run
	var body strings.Builder
	sc := bufio.NewScanner(strings.NewReader(page))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if !strings.HasPrefix(trimmed, "```") {
			if cur != nil {
				body.WriteString(line + "\n")
			}
			continue
		}
		info := strings.Fields(strings.TrimPrefix(trimmed, "```"))
		switch {
		case inOther:
			inOther = false
		case cur != nil && len(info) == 0: // the closing fence
			cur.Text = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			return nil, fmt.Errorf("line %d: a fence opens inside the block of line %d", n, cur.Line)
		case len(info) == 0 || !isShell(info[0]):
			inOther = true
		case info[0] != "sh":
			return nil, fmt.Errorf("line %d: mark shell blocks ```sh (run by the test) or ```sh TAG (skipped for TAG's reason), not ```%s", n, info[0])
		case len(info) > 2:
			return nil, fmt.Errorf("line %d: ```sh takes at most one tag, not %v", n, info[1:])
		default:
			cur = &Block{Line: n}
			if len(info) == 2 {
				if _, ok := reasons[info[1]]; !ok {
					return nil, fmt.Errorf("line %d: unknown tag %q: add it with its reason to the test's list and to the page", n, info[1])
				}
				cur.Tag = info[1]
			}
			body.Reset()
		}
	}
	if cur != nil || inOther {
		return nil, errors.New("a fenced block is never closed")
	}
	return blocks, nil
}

func isShell(lang string) bool {
	switch lang {
	case "sh", "bash", "shell", "console", "zsh", "shell-session":
		return true
	}
	return false
}

// Command is one command of a block, with what the page says it does.
type Command struct {
	Line     int    // in the page, 1-based
	Text     string // possibly several lines: continuations, quotes, a here-document
	Exit     int    // the expected exit code ("# exit N"), 0 by default
	Prints   string // text it must print on standard output ("# prints TEXT"), if any
	Comments string // the comment, as the page gives it
}

var (
	exitRE   = regexp.MustCompile(`#\s*exit (\d+)\b`)
	printsRE = regexp.MustCompile(`#\s*prints (.+?)\s*$`)
	heredoc  = regexp.MustCompile(`<<-?\s*'?"?([A-Za-z_]+)'?"?`)
)

// Commands splits a block's text into commands: a line, with its continuation lines
// (a trailing backslash, an unclosed single quote) and here-document. firstLine is the
// page line of the block's first line.
func Commands(text string, firstLine int) []Command {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	var out []Command
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		c := Command{Line: firstLine + i}
		var b strings.Builder
		b.WriteString(line)
		first := line
		open := strings.Count(code(line), "'")%2 == 1
		for (strings.HasSuffix(strings.TrimSpace(lines[i]), "\\") || open) && i+1 < len(lines) {
			i++
			b.WriteString("\n" + lines[i])
			// Inside an open quote a # starts no comment.
			next := lines[i]
			if !open {
				next = code(next)
			}
			if strings.Count(next, "'")%2 == 1 {
				open = !open
			}
		}
		if m := heredoc.FindStringSubmatch(first); m != nil {
			for i+1 < len(lines) {
				i++
				b.WriteString("\n" + lines[i])
				if strings.TrimSpace(lines[i]) == m[1] {
					break
				}
			}
		}
		c.Text = b.String()
		if k := commentStart(first); k >= 0 {
			c.Comments = first[k:]
			if m := exitRE.FindStringSubmatch(c.Comments); m != nil {
				c.Exit, _ = strconv.Atoi(m[1])
			}
			if m := printsRE.FindStringSubmatch(c.Comments); m != nil {
				c.Prints = m[1]
			}
		}
		out = append(out, c)
	}
	return out
}

// code is line without its comment: an apostrophe in "# it waits for alice's
// decision" opens no quote.
func code(line string) string {
	if k := commentStart(line); k >= 0 {
		return line[:k]
	}
	return line
}

// commentStart is the index of the comment of a shell line (a # after a blank, outside
// quotes), or -1.
func commentStart(line string) int {
	var quote rune
	for i, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return i
		}
	}
	return -1
}

// Script is a bash script that runs the commands one after another in one shell and
// stops at the first that does not do what the page says, naming its page line. env is
// a file the shell's exported variables are read from first and written to last, so
// that an export in one block holds in the next, as in the reader's terminal.
func Script(page string, cmds []Command, env string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "set -u\n[ -f %[1]q ] && . %[1]q\n", env)
	b.WriteString(`__fail() { echo "$1$2" >&2; exit 1; }` + "\n")
	for _, c := range cmds {
		// Quoted for the shell, so that printing a command never runs a part of it.
		fmt.Fprintf(&b, "printf '%%s\\n' %s >&2\n", shellQuote("$ "+firstLineOf(c.Text)))
		if c.Prints != "" {
			fmt.Fprintf(&b, "__out=$(%s\n)\n__rc=$?\nprintf '%%s\\n' \"$__out\"\n", c.Text)
		} else {
			fmt.Fprintf(&b, "%s\n__rc=$?\n", c.Text)
		}
		fmt.Fprintf(&b, "[ \"$__rc\" = %d ] || __fail %s \"$__rc\"\n", c.Exit, shellQuote(fmt.Sprintf("%s line %d: %s: want exit %d, got exit ", page, c.Line, firstLineOf(c.Text), c.Exit)))
		if c.Prints != "" {
			fmt.Fprintf(&b, "case \"$__out\" in *%s*) ;; *) __fail %s '' ;; esac\n", shellQuote(c.Prints), shellQuote(fmt.Sprintf("%s line %d: %s: want output with %q", page, c.Line, firstLineOf(c.Text), c.Prints)))
		}
	}
	fmt.Fprintf(&b, "export -p > %q\n", env)
	return b.String()
}

// shellQuote quotes s for the shell: nothing in it is expanded.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
