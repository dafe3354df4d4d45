// Package schedule parses the cron schedule of an AgentTrigger and says when it is due,
// with the semantics of a Kubernetes CronJob: the same parser (github.com/robfig/cron/v3,
// ParseStandard), the time zone given apart from the expression, and the most recent
// missed run (not every missed run) being the one that fires.
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// MaxCronLength is the longest expression accepted, as in the CRD's maxLength.
const MaxCronLength = 128

// Error says which field of a schedule is wrong and why, so that validation can
// point at spec.schedule.cron or spec.schedule.timeZone.
type Error struct {
	// Field is "cron" or "timeZone".
	Field string
	// Value is the value given.
	Value string
	// Detail says what is wrong, in words a user can act on.
	Detail string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %q: %s", e.Field, e.Value, e.Detail)
}

// Schedule is a parsed cron expression in a time zone.
type Schedule struct {
	expr string
	loc  *time.Location
	spec *cron.SpecSchedule
}

// Parse parses a five-field cron expression or an @-descriptor (@yearly, @annually,
// @monthly, @weekly, @daily, @midnight, @hourly) in the IANA time zone timeZone
// (empty means UTC). The zone database must be available: the manager imports
// time/tzdata for that.
//
// It is stricter than robfig/cron on its own, so that it accepts what the CRD's
// rule accepts: fields are separated by spaces only, numbers have at most two digits,
// "?" is allowed only for the day of month and the day of week, and @every, TZ= and
// CRON_TZ= are refused. It also refuses an expression that never matches a date
// (such as 31 February), which the CronJob controller would only notice at run time.
func Parse(expr, timeZone string) (*Schedule, error) {
	loc, err := LoadLocation(timeZone)
	if err != nil {
		return nil, err
	}
	spec, err := parseExpr(expr)
	if err != nil {
		return nil, &Error{Field: "cron", Value: expr, Detail: err.Error()}
	}
	spec.Location = loc
	// Five years is as far as robfig/cron looks; every real date recurs within that
	// (29 February within four years), so a zero answer means "never".
	if spec.Next(time.Date(2000, time.January, 1, 0, 0, 0, 0, loc)).IsZero() {
		return nil, &Error{Field: "cron", Value: expr, Detail: "never matches a date (for example 30 February); check the day of month and month"}
	}
	return &Schedule{expr: expr, loc: loc, spec: spec}, nil
}

// LoadLocation loads an IANA time zone; empty means UTC. "Local" is refused: the
// manager's own zone is not something a trigger's author can know or rely on.
func LoadLocation(timeZone string) (*time.Location, error) {
	if timeZone == "" {
		return time.UTC, nil
	}
	if strings.EqualFold(timeZone, "Local") {
		return nil, &Error{Field: "timeZone", Value: timeZone, Detail: "must be an IANA time zone name such as Europe/Paris, not Local"}
	}
	loc, err := time.LoadLocation(timeZone)
	if err != nil {
		return nil, &Error{Field: "timeZone", Value: timeZone, Detail: "unknown time zone; use an IANA name such as Europe/Paris or America/New_York"}
	}
	return loc, nil
}

// descriptors are the @-forms robfig/cron's ParseStandard accepts, minus @every (a
// fixed interval from whenever the parser ran is not a schedule a CronJob can keep).
func descriptors() []string {
	return []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
}

func parseExpr(expr string) (*cron.SpecSchedule, error) {
	switch {
	case strings.TrimSpace(expr) == "":
		return nil, errors.New("is empty")
	case len(expr) > MaxCronLength:
		return nil, fmt.Errorf("is longer than %d characters", MaxCronLength)
	case strings.Contains(expr, "TZ="):
		return nil, errors.New("TZ= and CRON_TZ= are not allowed in the expression; put the time zone in timeZone")
	}
	var normalized string
	if strings.HasPrefix(expr, "@") {
		if strings.HasPrefix(expr, "@every") {
			return nil, errors.New("@every is not supported; use a step such as */15 in the minute field")
		}
		ok := false
		for _, d := range descriptors() {
			ok = ok || expr == d
		}
		if !ok {
			return nil, fmt.Errorf("unknown descriptor; use one of %s, or five fields", strings.Join(descriptors(), ", "))
		}
		normalized = expr
	} else {
		fields := splitSpaces(expr)
		if len(fields) != 5 {
			return nil, fmt.Errorf("has %d fields, want 5 separated by spaces (minute hour day-of-month month day-of-week) or a descriptor such as @hourly", len(fields))
		}
		for i, f := range cronFields() {
			if err := f.check(fields[i]); err != nil {
				return nil, err
			}
		}
		normalized = strings.Join(fields, " ")
	}
	sched, err := cron.ParseStandard(normalized)
	if err != nil {
		// The checks above should have caught everything robfig/cron refuses.
		return nil, fmt.Errorf("is not a valid cron expression: %w", err)
	}
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("is not a calendar schedule (got %T)", sched)
	}
	return spec, nil
}

// splitSpaces splits on spaces only: the CRD's rule allows no other whitespace, and a
// tab that strings.Fields would accept is refused here so both agree.
func splitSpaces(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, " ") {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// String returns the expression as given.
func (s *Schedule) String() string { return s.expr }

// Location is the schedule's time zone.
func (s *Schedule) Location() *time.Location { return s.loc }

// Next returns the first scheduled time strictly after after, in after's location,
// or the zero time if there is none within five years.
func (s *Schedule) Next(after time.Time) time.Time {
	return s.spec.Next(after)
}

// Due says whether a run is due at now, like the CronJob controller's
// mostRecentScheduleTime: run is the most recent scheduled time in
// (max(last, created), now], or zero if there is none. ok is true when run is set and,
// if startingDeadline is set, run is later than now-startingDeadline (a run missed by
// more than the deadline is skipped, but still returned so the caller can say so).
// Only the most recent missed run counts, however many were missed. next is the
// first scheduled time after now, for RequeueAfter.
//
// last is the scheduled time of the last run (zero if none), created the trigger's
// creation time. The cost is logarithmic in now-max(last, created), so a trigger last
// run years ago costs a few dozen calls to Next, not one per missed run.
func (s *Schedule) Due(last, created, now time.Time, startingDeadline *time.Duration) (run time.Time, ok bool, next time.Time) {
	next = s.Next(now)
	earliest := created
	if last.After(earliest) {
		earliest = last
	}
	run = latest(s.spec.Next, earliest, now)
	if run.IsZero() {
		return time.Time{}, false, next
	}
	if startingDeadline != nil && !run.After(now.Add(-*startingDeadline)) {
		return run, false, next
	}
	return run, true, next
}

// latest returns the latest time next can return in (after, upTo], or zero; next
// returns the first scheduled time strictly after its argument, or zero for none.
//
// robfig/cron can only step forwards, so this bisects: with "next(x) <= upTo" true at
// lo and false at hi (next(upTo) > upTo always), the interval shrinks to under a second,
// and then next(lo) is the answer, since scheduled times are whole seconds and no
// other one fits in (lo, hi]. That is about 40 calls to next for a century.
func latest(next func(time.Time) time.Time, after, upTo time.Time) time.Time {
	dueBy := func(x time.Time) bool {
		n := next(x)
		return !n.IsZero() && !n.After(upTo)
	}
	if !dueBy(after) {
		return time.Time{}
	}
	lo, hi := after, upTo
	// hi.Sub(lo) saturates at about 292 years, which only makes the first steps
	// smaller than halves; the loop still ends.
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2)
		if dueBy(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return next(lo)
}
