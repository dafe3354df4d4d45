package schedule

import (
	"fmt"
	"strings"
)

// cronField describes one of the five fields, with robfig/cron's bounds and names.
type cronField struct {
	name     string
	min, max int
	// names are the three-letter names of the values min, min+1, ..., if any.
	names []string
	// question says whether "?" (same as "*") is allowed, as for the two day fields.
	question bool
}

func cronFields() [5]cronField {
	return [5]cronField{
		{name: "minute", min: 0, max: 59},
		{name: "hour", min: 0, max: 23},
		{name: "day of month", min: 1, max: 31, question: true},
		{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
		// robfig/cron (and so a CronJob) has Sunday as 0 only; 7 is refused.
		{name: "day of week", min: 0, max: 6, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}, question: true},
	}
}

// check accepts a comma-separated list of *, ?, a value or a range a-b, each with an
// optional step /n. robfig/cron accepts more (empty list elements, "*-5", numbers
// with any number of digits or a sign, any step); the checks here keep to what the
// CRD's rule can express, and give messages that say which field is wrong.
func (f cronField) check(field string) error {
	for part := range strings.SplitSeq(field, ",") {
		if err := f.checkPart(part); err != nil {
			return fmt.Errorf("%s field %q: %w", f.name, field, err)
		}
	}
	return nil
}

func (f cronField) checkPart(part string) error {
	if part == "" {
		return fmt.Errorf("has an empty list element")
	}
	base, step, hasStep := strings.Cut(part, "/")
	if hasStep {
		n, ok := twoDigits(step)
		if !ok || n == 0 {
			return fmt.Errorf("step %q must be a number from 1 to 99", step)
		}
	}
	switch base {
	case "*":
		return nil
	case "?":
		if !f.question {
			return fmt.Errorf("? is only allowed in the day-of-month and day-of-week fields; use *")
		}
		return nil
	}
	lowText, highText, isRange := strings.Cut(base, "-")
	low, err := f.value(lowText)
	if err != nil {
		return err
	}
	if !isRange {
		return nil
	}
	high, err := f.value(highText)
	if err != nil {
		return err
	}
	if low > high {
		return fmt.Errorf("range %s runs backwards; write the smaller value first", base)
	}
	return nil
}

// value parses a number of one or two digits, or a name, within the field's bounds.
func (f cronField) value(s string) (int, error) {
	if n, ok := twoDigits(s); ok {
		if n < f.min || n > f.max {
			return 0, fmt.Errorf("%d is out of range %s", n, f.bounds())
		}
		return n, nil
	}
	for i, name := range f.names {
		if strings.EqualFold(s, name) {
			return f.min + i, nil
		}
	}
	return 0, fmt.Errorf("%q is not a value in %s", s, f.bounds())
}

func (f cronField) bounds() string {
	b := fmt.Sprintf("%d-%d", f.min, f.max)
	if len(f.names) > 0 {
		b += fmt.Sprintf(" or %s-%s", f.names[0], f.names[len(f.names)-1])
	}
	return b
}

// twoDigits parses one or two ASCII digits.
func twoDigits(s string) (int, bool) {
	if len(s) == 0 || len(s) > 2 {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
