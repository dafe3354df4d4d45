package redact

import (
	"encoding/base64"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// minScrubLength is the shortest value a Scrubber removes: shorter ones ("1", "yes")
// would take ordinary words with them, and are no credentials worth the name.
const minScrubLength = 4

// Scrubber removes known secret values from free text: a model's answer may quote a
// value that a tool showed it, and the answer is kept where the tool's result is not.
// Each value is removed as given, base64-encoded, and decoded when it is base64 (the
// form Secret data has). The zero value is ready to use; it is not safe for
// concurrent use.
type Scrubber struct {
	values   map[string]bool
	replacer *strings.Replacer
}

// Add makes the scrubber remove values from now on.
func (s *Scrubber) Add(values ...string) {
	for _, v := range values {
		for _, form := range forms(v) {
			if len(form) < minScrubLength || isPlaceholder(form) || s.values[form] {
				continue
			}
			if s.values == nil {
				s.values = map[string]bool{}
			}
			s.values[form] = true
			s.replacer = nil
		}
	}
}

// forms are the ways a value may be written.
func forms(v string) []string {
	v = strings.TrimSpace(v)
	out := []string{v, base64.StdEncoding.EncodeToString([]byte(v))}
	if b, err := base64.StdEncoding.DecodeString(v); err == nil && printable(b) {
		out = append(out, strings.TrimSpace(string(b)))
	}
	return out
}

func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) && !unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// Empty reports whether the scrubber knows no value.
func (s *Scrubber) Empty() bool { return len(s.values) == 0 }

// Scrub returns text with every known value replaced by its placeholder.
func (s *Scrubber) Scrub(text string) string {
	if len(s.values) == 0 || text == "" {
		return text
	}
	if s.replacer == nil {
		olds := make([]string, 0, len(s.values))
		for v := range s.values {
			olds = append(olds, v)
		}
		// Longest first: the replacer tries its pairs in order at each position, and a
		// value must not be cut by a shorter one that it contains.
		slices.SortFunc(olds, func(a, b string) int {
			if len(a) != len(b) {
				return len(b) - len(a)
			}
			return strings.Compare(a, b)
		})
		pairs := make([]string, 0, 2*len(olds))
		for _, v := range olds {
			pairs = append(pairs, v, Placeholder(v))
		}
		s.replacer = strings.NewReplacer(pairs...)
	}
	return s.replacer.Replace(text)
}
