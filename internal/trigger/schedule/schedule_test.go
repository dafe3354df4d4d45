package schedule

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	// The manager imports time/tzdata; the tests do too, so they do not depend on
	// the machine's zone files.
	_ "time/tzdata"
)

func TestParse(t *testing.T) {
	cases := []struct {
		expr, zone string
		// field and wantErr are empty for a valid schedule.
		field, wantErr string
	}{
		{expr: "*/5 * * * *"},
		{expr: "0 9 * * 1-5"},
		{expr: "@hourly"},
		{expr: "@yearly", zone: "Europe/Paris"},
		{expr: "@midnight"},
		{expr: "0 0 1 jan *"},
		{expr: "0 0 1 JAN-Mar *"},
		{expr: "30 2 * * sun"},
		{expr: "  0  9 * *  mon-fri  "},
		{expr: "00 09 01 01 00"},
		{expr: "5/15 * ? * *"},
		{expr: "1-59/2,0 */99 1,15 */3 ?"},
		{expr: "0 0 29 2 *"},
		{expr: "0 0 31 2 mon"}, // day of month OR day of week, as in cron
		{expr: "0 9 * * *", zone: "America/New_York"},

		{expr: "", field: "cron", wantErr: "is empty"},
		{expr: "60 * * * *", field: "cron", wantErr: `minute field "60": 60 is out of range 0-59`},
		{expr: "* 24 * * *", field: "cron", wantErr: "hour field"},
		{expr: "* * 0 * *", field: "cron", wantErr: "day of month field"},
		{expr: "* * * 13 *", field: "cron", wantErr: "out of range 1-12 or jan-dec"},
		{expr: "* * * * 8", field: "cron", wantErr: "day of week field"},
		{expr: "* * * * 7", field: "cron", wantErr: "out of range 0-6 or sun-sat"},
		{expr: "* * * * *", zone: "Nowhere/Atlantis", field: "timeZone", wantErr: "unknown time zone"},
		{expr: "* * * * *", zone: "Local", field: "timeZone", wantErr: "not Local"},
		{expr: "TZ=UTC 0 * * * *", field: "cron", wantErr: "put the time zone in timeZone"},
		{expr: "CRON_TZ=Europe/Paris 0 * * * *", field: "cron", wantErr: "put the time zone in timeZone"},
		{expr: "not a cron", field: "cron", wantErr: "has 3 fields, want 5"},
		{expr: "* * * *", field: "cron", wantErr: "has 4 fields"},
		{expr: "0 * * * * *", field: "cron", wantErr: "has 6 fields"},
		{expr: "@every 5m", field: "cron", wantErr: "@every is not supported"},
		{expr: "@fortnightly", field: "cron", wantErr: "unknown descriptor"},
		{expr: "@HOURLY", field: "cron", wantErr: "unknown descriptor"},
		{expr: " @hourly", field: "cron", wantErr: "has 1 fields"},
		{expr: "*\t* * * *", field: "cron", wantErr: "has 4 fields"},
		{expr: "? * * * *", field: "cron", wantErr: "? is only allowed in the day-of-month and day-of-week fields"},
		{expr: "*/0 * * * *", field: "cron", wantErr: "step \"0\""},
		{expr: "*/100 * * * *", field: "cron", wantErr: "from 1 to 99"},
		{expr: "*-5 * * * *", field: "cron", wantErr: `"*" is not a value`},
		{expr: "1,,2 * * * *", field: "cron", wantErr: "empty list element"},
		{expr: "005 * * * *", field: "cron", wantErr: `"005" is not a value`},
		{expr: "+5 * * * *", field: "cron", wantErr: `"+5" is not a value`},
		{expr: "30-10 * * * *", field: "cron", wantErr: "range 30-10 runs backwards"},
		{expr: "0 0 1 january *", field: "cron", wantErr: `"january" is not a value`},
		{expr: "0 0 30 2 *", field: "cron", wantErr: "never matches a date"},
		{expr: "0 0 31 4,6,9,11 ?", field: "cron", wantErr: "never matches a date"},
		{expr: "0 " + strings.Repeat("1,", 70) + "1 * * *", field: "cron", wantErr: "longer than 128"},
	}
	for _, tc := range cases {
		t.Run(tc.expr+"|"+tc.zone, func(t *testing.T) {
			s, err := Parse(tc.expr, tc.zone)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if s.String() != tc.expr {
					t.Errorf("String() = %q, want %q", s.String(), tc.expr)
				}
				if s.Next(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
					t.Errorf("no next run")
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse accepted it, want an error containing %q", tc.wantErr)
			}
			var se *Error
			if !errors.As(err, &se) || se.Field != tc.field {
				t.Fatalf("error %v (%T) is not a schedule.Error for field %q", err, err, tc.field)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestLocation(t *testing.T) {
	for zone, want := range map[string]string{"": "UTC", "UTC": "UTC", "Europe/Paris": "Europe/Paris"} {
		s, err := Parse("@daily", zone)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Location().String(); got != want {
			t.Errorf("zone %q: Location() = %s, want %s", zone, got, want)
		}
	}
}

func mustParse(t *testing.T, expr, zone string) *Schedule {
	t.Helper()
	s, err := Parse(expr, zone)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestNext(t *testing.T) {
	paris := mustZone(t, "Europe/Paris")
	utc := func(y int, mo time.Month, d, h, mi int) time.Time { return time.Date(y, mo, d, h, mi, 0, 0, time.UTC) }
	cases := []struct {
		name, expr, zone string
		after            time.Time
		// want are the next runs, one after the other.
		want []time.Time
	}{
		{"every five minutes", "*/5 * * * *", "", utc(2025, 6, 1, 10, 2),
			[]time.Time{utc(2025, 6, 1, 10, 5), utc(2025, 6, 1, 10, 10)}},
		{"strictly after", "0 * * * *", "", utc(2025, 6, 1, 10, 0),
			[]time.Time{utc(2025, 6, 1, 11, 0)}},
		{"weekdays at nine, over a weekend", "0 9 * * 1-5", "", utc(2025, 6, 6, 9, 0), // a Friday
			[]time.Time{utc(2025, 6, 9, 9, 0), utc(2025, 6, 10, 9, 0)}},
		{"nine in Paris is seven UTC in summer", "0 9 * * *", "Europe/Paris", utc(2025, 7, 1, 0, 0),
			[]time.Time{utc(2025, 7, 1, 7, 0)}},
		{"nine in Paris is eight UTC in winter", "0 9 * * *", "Europe/Paris", utc(2025, 1, 1, 0, 0),
			[]time.Time{utc(2025, 1, 1, 8, 0)}},
		// On 30 March 2025 Paris goes from 02:00 CET to 03:00 CEST: 02:30 does not
		// exist that day and the run is skipped, as a CronJob does.
		{"spring forward skips the missing time", "30 2 * * *", "Europe/Paris", time.Date(2025, 3, 29, 12, 0, 0, 0, paris),
			[]time.Time{utc(2025, 3, 31, 0, 30), utc(2025, 4, 1, 0, 30)}},
		// On 26 October 2025 Paris goes from 03:00 CEST back to 02:00 CET: 02:30
		// happens twice and runs twice.
		{"fall back runs twice", "30 2 * * *", "Europe/Paris", time.Date(2025, 10, 25, 12, 0, 0, 0, paris),
			[]time.Time{utc(2025, 10, 26, 0, 30), utc(2025, 10, 26, 1, 30), utc(2025, 10, 27, 1, 30)}},
		{"hourly through spring forward", "@hourly", "Europe/Paris", utc(2025, 3, 30, 0, 30),
			[]time.Time{utc(2025, 3, 30, 1, 0), utc(2025, 3, 30, 2, 0)}},
		{"leap day", "0 0 29 2 *", "", utc(2025, 1, 1, 0, 0),
			[]time.Time{utc(2028, 2, 29, 0, 0)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := mustParse(t, tc.expr, tc.zone)
			at := tc.after
			for i, want := range tc.want {
				at = s.Next(at)
				if !at.Equal(want) {
					t.Fatalf("run %d = %s, want %s", i, at.UTC(), want)
				}
			}
		})
	}
}

func TestDue(t *testing.T) {
	paris := mustZone(t, "Europe/Paris")
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	dur := func(d time.Duration) *time.Duration { return &d }
	created := utc(2025, 1, 1, 0, 0, 0)
	cases := []struct {
		name, expr, zone  string
		last, created     time.Time
		now               time.Time
		deadline          *time.Duration
		wantRun, wantNext time.Time
		wantOK            bool
	}{
		{name: "first run after creation", expr: "0 * * * *",
			created: created, now: utc(2025, 1, 1, 1, 0, 30),
			wantRun: utc(2025, 1, 1, 1, 0, 0), wantOK: true, wantNext: utc(2025, 1, 1, 2, 0, 0)},
		{name: "nothing due yet", expr: "0 * * * *",
			created: created, now: utc(2025, 1, 1, 0, 59, 59),
			wantNext: utc(2025, 1, 1, 1, 0, 0)},
		{name: "due exactly now", expr: "0 * * * *",
			created: created, now: utc(2025, 1, 1, 1, 0, 0),
			wantRun: utc(2025, 1, 1, 1, 0, 0), wantOK: true, wantNext: utc(2025, 1, 1, 2, 0, 0)},
		{name: "the last run is not run again", expr: "0 * * * *",
			last: utc(2025, 1, 1, 1, 0, 0), created: created, now: utc(2025, 1, 1, 1, 30, 0),
			wantNext: utc(2025, 1, 1, 2, 0, 0)},
		{name: "a run at creation time is not due", expr: "0 0 * * *",
			created: utc(2025, 1, 1, 0, 0, 0), now: utc(2025, 1, 1, 12, 0, 0),
			wantNext: utc(2025, 1, 2, 0, 0, 0)},
		{name: "only the most recent of many missed runs", expr: "*/5 * * * *",
			last: utc(2025, 1, 1, 0, 0, 0), created: created, now: utc(2025, 1, 3, 17, 42, 0),
			wantRun: utc(2025, 1, 3, 17, 40, 0), wantOK: true, wantNext: utc(2025, 1, 3, 17, 45, 0)},
		{name: "last run years ago", expr: "* * * * *",
			last: utc(2015, 3, 1, 0, 0, 0), created: utc(2015, 1, 1, 0, 0, 0), now: utc(2025, 6, 1, 12, 34, 56),
			wantRun: utc(2025, 6, 1, 12, 34, 0), wantOK: true, wantNext: utc(2025, 6, 1, 12, 35, 0)},
		{name: "created after the last run (recreated trigger)", expr: "0 * * * *",
			last: utc(2024, 1, 1, 0, 0, 0), created: utc(2025, 1, 1, 0, 30, 0), now: utc(2025, 1, 1, 0, 45, 0),
			wantNext: utc(2025, 1, 1, 1, 0, 0)},
		{name: "now before creation (clock skew)", expr: "* * * * *",
			created: created, now: utc(2024, 12, 31, 23, 0, 0),
			wantNext: utc(2024, 12, 31, 23, 1, 0)},
		{name: "irregular schedule over a weekend", expr: "30 6-16/4 * * 1-5",
			last: utc(2025, 6, 6, 14, 30, 0), created: created, now: utc(2025, 6, 9, 6, 0, 0), // Friday 14:30 to Monday 06:00
			wantNext: utc(2025, 6, 9, 6, 30, 0)},
		{name: "irregular schedule, missed the weekend's first run", expr: "30 6-16/4 * * 1-5",
			last: utc(2025, 6, 6, 10, 30, 0), created: created, now: utc(2025, 6, 9, 6, 0, 0),
			wantRun: utc(2025, 6, 6, 14, 30, 0), wantOK: true, wantNext: utc(2025, 6, 9, 6, 30, 0)},
		{name: "within the starting deadline", expr: "0 * * * *",
			created: created, now: utc(2025, 1, 1, 1, 4, 59), deadline: dur(5 * time.Minute),
			wantRun: utc(2025, 1, 1, 1, 0, 0), wantOK: true, wantNext: utc(2025, 1, 1, 2, 0, 0)},
		{name: "exactly at the starting deadline is too late", expr: "0 * * * *",
			created: created, now: utc(2025, 1, 1, 1, 5, 0), deadline: dur(5 * time.Minute),
			wantRun: utc(2025, 1, 1, 1, 0, 0), wantNext: utc(2025, 1, 1, 2, 0, 0)},
		{name: "missed by more than the deadline is skipped", expr: "0 9 * * *",
			last: utc(2025, 1, 1, 9, 0, 0), created: created, now: utc(2025, 1, 5, 12, 0, 0), deadline: dur(time.Hour),
			wantRun: utc(2025, 1, 5, 9, 0, 0), wantNext: utc(2025, 1, 6, 9, 0, 0)},
		{name: "in a time zone", expr: "0 9 * * *", zone: "Europe/Paris",
			created: created, now: time.Date(2025, 7, 1, 9, 0, 1, 0, paris),
			wantRun: utc(2025, 7, 1, 7, 0, 0), wantOK: true, wantNext: utc(2025, 7, 2, 7, 0, 0)},
		{name: "second of two runs at fall back", expr: "30 2 * * *", zone: "Europe/Paris",
			last: utc(2025, 10, 26, 0, 30, 0), created: created, now: utc(2025, 10, 26, 1, 40, 0),
			wantRun: utc(2025, 10, 26, 1, 30, 0), wantOK: true, wantNext: utc(2025, 10, 27, 1, 30, 0)},
		{name: "no run on the spring forward day", expr: "30 2 * * *", zone: "Europe/Paris",
			last: utc(2025, 3, 29, 1, 30, 0), created: created, now: utc(2025, 3, 30, 12, 0, 0),
			wantNext: utc(2025, 3, 31, 0, 30, 0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := mustParse(t, tc.expr, tc.zone)
			run, ok, next := s.Due(tc.last, tc.created, tc.now, tc.deadline)
			if !run.Equal(tc.wantRun) || ok != tc.wantOK || !next.Equal(tc.wantNext) {
				t.Errorf("Due = (%s, %v, %s), want (%s, %v, %s)", run.UTC(), ok, next.UTC(), tc.wantRun, tc.wantOK, tc.wantNext)
			}
		})
	}
}

// TestDueAgreesWithStepping checks the bisection against the obvious loop (step with
// Next from the earliest time while not after now) on windows short enough to step.
func TestDueAgreesWithStepping(t *testing.T) {
	// Each schedule with a window long enough to hold a few runs, short enough to step.
	exprs := []struct {
		expr   string
		window time.Duration
	}{
		{"* * * * *", 3 * time.Hour}, {"*/7 * * * *", 12 * time.Hour}, {"0 */2 * * *", 3 * 24 * time.Hour},
		{"@hourly", 3 * 24 * time.Hour}, {"0 9 * * 1-5", 10 * 24 * time.Hour}, {"30 6-16/4 * * 1-5", 10 * 24 * time.Hour},
		{"30 2 * * *", 10 * 24 * time.Hour}, {"0 0 * * sun", 30 * 24 * time.Hour}, {"@weekly", 30 * 24 * time.Hour},
		{"15 3 1,15 * *", 60 * 24 * time.Hour}, {"45 23 31 * *", 120 * 24 * time.Hour}, {"0 12 29 2 *", 5 * 365 * 24 * time.Hour},
	}
	// Chile changes clocks at midnight, which robfig/cron handles specially. Not
	// Australia/Lord_Howe: its half-hour DST shift makes robfig/cron's Next skip a
	// week after the change, so stepping itself is wrong there.
	zones := []string{"", "Europe/Paris", "America/Santiago", "Australia/Sydney"}
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // G404: a fixed seed on purpose, the same windows every run
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, e := range exprs {
		for _, zone := range zones {
			s := mustParse(t, e.expr, zone)
			for range 25 {
				earliest := base.Add(time.Duration(rng.Int64N(int64(2 * 365 * 24 * time.Hour))))
				now := earliest.Add(time.Duration(rng.Int64N(int64(e.window))))
				var want time.Time
				for at := s.Next(earliest); !at.IsZero() && !at.After(now); at = s.Next(at) {
					want = at
				}
				run, _, _ := s.Due(time.Time{}, earliest, now, nil)
				if !run.Equal(want) {
					t.Fatalf("%q in %q, (%s, %s]: Due = %s, stepping = %s", e.expr, zone, earliest, now, run, want)
				}
			}
		}
	}
}

// TestLatestIsCheap counts calls to Next: a decade of missed minutes must not be
// walked one by one.
func TestLatestIsCheap(t *testing.T) {
	s := mustParse(t, "* * * * *", "")
	calls := 0
	next := func(x time.Time) time.Time { calls++; return s.Next(x) }
	after := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2025, 1, 1, 0, 0, 30, 0, time.UTC)
	if got, want := latest(next, after, now), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("latest = %s, want %s", got, want)
	}
	if calls > 40 {
		t.Errorf("latest called Next %d times for ten years, want at most 40", calls)
	}
	// From the zero time (a trigger with no creation time) it still ends.
	calls = 0
	if got := latest(next, time.Time{}, now); got.IsZero() {
		t.Errorf("latest from the zero time found nothing")
	}
	if calls > 200 {
		t.Errorf("latest from the zero time called Next %d times", calls)
	}
}
