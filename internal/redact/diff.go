package redact

import (
	"bufio"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/yaml"
)

// DiffContextLines is the context kubectl diff's diff program must be run with (diff
// -N -U<DiffContextLines>) for Diff to read both versions of each object whole.
const DiffContextLines = 1 << 20

// outputContext is the context of the diffs Diff prints, diff -u's default.
const outputContext = 3

// Diff reads what kubectl diff printed with a full context (see DiffContextLines):
// for each object, the live and the merged version in full. It prints the diff again,
// with the usual context: plain as kubectl would, and redacted, where both versions
// went through the object rules first. So a changed env value or Secret key shows as
// a changed placeholder, whatever the line it is on says. removed are the values
// the redacted diff hides. Output that is not such a diff is an error: the caller
// withholds it.
func Diff(out string) (plain, redacted string, removed []string, err error) {
	files, err := parseFullDiff(out)
	if err != nil {
		return "", "", nil, err
	}
	var p, q strings.Builder
	var r remover
	for _, f := range files {
		from, to := "LIVE/"+path.Base(f.from), "MERGED/"+path.Base(f.to)
		text, err := unified(f.old, f.new, from, to)
		if err != nil {
			return "", "", nil, err
		}
		p.WriteString(text)

		oldObj, err := parseSide(f.old)
		if err != nil {
			return "", "", nil, fmt.Errorf("%s: %w", from, err)
		}
		newObj, err := parseSide(f.new)
		if err != nil {
			return "", "", nil, fmt.Errorf("%s: %w", to, err)
		}
		r.object(oldObj)
		r.object(newObj)
		oldText, newText := sideText(oldObj), sideText(newObj)
		if oldText == newText && f.old != f.new {
			fmt.Fprintf(&q, "%s and %s differ only in secret values, which are redacted\n", from, to)
			continue
		}
		text, err = unified(oldText, newText, from, to)
		if err != nil {
			return "", "", nil, err
		}
		q.WriteString(text)
	}
	return p.String(), q.String(), r.removed, nil
}

// fileDiff is one object's two versions.
type fileDiff struct {
	from, to string
	old, new string
}

var hunkHeader = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@`)

// parseFullDiff reads unified diffs of whole files: each file has one hunk that holds
// every line of both versions.
func parseFullDiff(out string) ([]fileDiff, error) {
	var files []fileDiff
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), len(out)+1)
	var cur *fileDiff
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "diff "), strings.HasPrefix(line, "Only in "):
			continue
		case strings.HasPrefix(line, "--- "):
			files = append(files, fileDiff{from: headerPath(line)})
			cur = &files[len(files)-1]
		case strings.HasPrefix(line, "+++ ") && cur != nil && cur.to == "":
			cur.to = headerPath(line)
		case strings.HasPrefix(line, "@@ ") && cur != nil && cur.to != "":
			if cur.old != "" || cur.new != "" {
				return nil, errors.New("a diff has more than one hunk: it does not hold the whole objects")
			}
			m := hunkHeader.FindStringSubmatch(line)
			if m == nil {
				return nil, fmt.Errorf("unreadable hunk header %q", line)
			}
			oldStart, oldCount := count(m[1], m[2])
			newStart, newCount := count(m[3], m[4])
			if oldStart > 1 || newStart > 1 {
				return nil, errors.New("a diff does not start at the first line: it does not hold the whole objects")
			}
			var o, n strings.Builder
			for oldCount > 0 || newCount > 0 {
				if !sc.Scan() {
					return nil, errors.New("a diff ends in the middle of a hunk")
				}
				l := sc.Text()
				if l == "" {
					return nil, errors.New("an empty line in a hunk")
				}
				body := l[1:] + "\n"
				switch l[0] {
				case ' ':
					o.WriteString(body)
					n.WriteString(body)
					oldCount--
					newCount--
				case '-':
					o.WriteString(body)
					oldCount--
				case '+':
					n.WriteString(body)
					newCount--
				case '\\': // "\ No newline at end of file"
				default:
					return nil, fmt.Errorf("an unexpected line in a hunk: %q", l[:1])
				}
			}
			if oldCount < 0 || newCount < 0 {
				return nil, errors.New("a hunk holds more lines than its header says")
			}
			cur.old, cur.new = o.String(), n.String()
		case strings.HasPrefix(line, `\`):
			continue
		default:
			return nil, fmt.Errorf("not a unified diff: %.40q", line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, f := range files {
		if f.to == "" {
			return nil, errors.New("a diff header lacks its +++ line")
		}
	}
	return files, nil
}

// count reads a hunk range: start, and a line count that defaults to 1.
func count(start, n string) (int, int) {
	s, _ := strconv.Atoi(start)
	c := 1
	if n != "" {
		c, _ = strconv.Atoi(n)
	}
	return s, c
}

// headerPath is the file name of a "--- name\ttimestamp" line.
func headerPath(line string) string {
	name, _, _ := strings.Cut(line[4:], "\t")
	return name
}

// parseSide reads one version: an object in YAML, or nothing (a created or deleted
// object).
func parseSide(text string) (map[string]any, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(text), &obj); err != nil {
		return nil, fmt.Errorf("not an object: %w", err)
	}
	return obj, nil
}

func sideText(obj map[string]any) string {
	if obj == nil {
		return ""
	}
	return yamlText(obj)
}

// unified prints a unified diff of two texts with the usual context.
func unified(a, b, from, to string) (string, error) {
	if a == b {
		return "", nil
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a), B: difflib.SplitLines(b),
		FromFile: from, ToFile: to, Context: outputContext,
	})
}
