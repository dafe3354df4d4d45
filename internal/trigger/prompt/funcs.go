package prompt

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"unicode/utf8"
)

// Bounds on the work of one rendering, which the output limit alone does not bound:
// a loop or a function result need not be printed.
const (
	// maxRangeSteps bounds the work of all range loops: each iteration costs the
	// number of parse-tree nodes of the loop's body. Going through 32 alerts times 64
	// labels with a body of 20 nodes costs about 40000; 1000000 steps take well
	// under a second.
	maxRangeSteps = 1_000_000
	// maxFuncBytes bounds the bytes all function calls produce. Without it
	// {{$a = printf "%s%s" $a $a}}, repeated, doubles a string at every step.
	maxFuncBytes = 1 << 20
	// maxFormatNumber bounds a printf width or precision: fmt pads up to a million.
	maxFormatNumber = 1000
)

// budget is what is left of one rendering's bounds.
type budget struct {
	steps int
	bytes int
}

func newBudget() *budget {
	return &budget{steps: maxRangeSteps, bytes: maxFuncBytes}
}

// spend counts a function's result against the budget.
func (b *budget) spend(s string) (string, error) {
	b.bytes -= len(s)
	if b.bytes < 0 {
		return "", fmt.Errorf("the prompt's functions produce more than %d bytes in all", maxFuncBytes)
	}
	return s, nil
}

// helperNames are the functions of this package a prompt may call.
func helperNames() []string {
	return slices.Sorted(maps.Keys(helpers(newBudget())))
}

// helpers are the functions a prompt may call besides text/template's builtins. They
// are pure: they see only their arguments, so a template can read nothing but its data.
func helpers(b *budget) template.FuncMap {
	return template.FuncMap{
		// quote: a Go double-quoted string, so a value reads as one value in the prompt.
		"quote": func(v any) (string, error) { return b.spend(strconv.Quote(text(v))) },
		// truncate N: the first N characters, and "…" if there were more.
		"truncate": func(n int, v any) (string, error) {
			s, err := truncate(n, v)
			if err != nil {
				return "", err
			}
			return b.spend(s)
		},
		// join SEP: the elements of a list, or the k=v pairs of a map sorted by key.
		"join": func(sep string, v any) (string, error) {
			s, err := join(sep, v)
			if err != nil {
				return "", err
			}
			return b.spend(s)
		},
		"lower": func(v any) (string, error) { return b.spend(strings.ToLower(text(v))) },
		"upper": func(v any) (string, error) { return b.spend(strings.ToUpper(text(v))) },
		"trim":  func(v any) (string, error) { return b.spend(strings.TrimSpace(text(v))) },
		// default D: D when the value is empty (missing, "", 0, an empty map or list).
		"default": orDefault,
	}
}

// renderFuncs are every function of one rendering: the helpers, the builtins that
// build strings (same behaviour, counted against the budget) and the range guard.
func renderFuncs(b *budget) template.FuncMap {
	funcs := helpers(b)
	funcs["print"] = func(args ...any) (string, error) { return b.spend(fmt.Sprint(args...)) }
	funcs["println"] = func(args ...any) (string, error) { return b.spend(fmt.Sprintln(args...)) }
	funcs["printf"] = func(format string, args ...any) (string, error) {
		if err := checkFormat(format); err != nil {
			return "", err
		}
		return b.spend(fmt.Sprintf(format, args...))
	}
	funcs["html"] = func(args ...any) (string, error) { return b.spend(template.HTMLEscaper(args...)) }
	funcs["js"] = func(args ...any) (string, error) { return b.spend(template.JSEscaper(args...)) }
	funcs["urlquery"] = func(args ...any) (string, error) { return b.spend(template.URLQueryEscaper(args...)) }
	funcs[rangeGuardName] = b.rangeGuard
	return funcs
}

// checkFormat refuses printf widths and precisions over maxFormatNumber, and those
// taken from the arguments (*), so that a short format cannot build a long string.
func checkFormat(format string) error {
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("+-# 0123456789.*[]", format[j]) >= 0 {
			j++
		}
		spec := format[i+1 : j]
		if strings.Contains(spec, "*") {
			return fmt.Errorf("printf: a width or precision from an argument (*) is not allowed in a prompt")
		}
		for num := range strings.FieldsFuncSeq(spec, func(r rune) bool { return r < '0' || r > '9' }) {
			if n, err := strconv.Atoi(num); err != nil || n > maxFormatNumber {
				return fmt.Errorf("printf: width or precision %s is more than %d", num, maxFormatNumber)
			}
		}
		i = j // the verb, or a second % of %%
	}
	return nil
}

// rangeGuard is the function Parse appends to every range pipeline, with the size
// of the loop's body: it passes lists and maps through while their iterations fit in
// the budget, and refuses ranging over a number, a function or a channel, which
// could loop without bound.
func (b *budget) rangeGuard(bodySize int, v any) (any, error) {
	rv := reflect.ValueOf(v)
	for (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface) && !rv.IsNil() {
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		b.steps -= rv.Len() * bodySize
		if b.steps < 0 {
			return nil, fmt.Errorf("the prompt's range loops do too much: more than %d steps (iterations times the size of the loop's body)", maxRangeSteps)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return nil, fmt.Errorf("range over a number (%v) is not allowed in a prompt; range over a list or a map", v)
	case reflect.Func, reflect.Chan:
		return nil, fmt.Errorf("range over a %s is not allowed in a prompt; range over a list or a map", rv.Kind())
	}
	return v, nil
}

// text is how a value of any type reads in the prompt.
func text(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

func truncate(n int, v any) (string, error) {
	if n < 0 {
		return "", fmt.Errorf("truncate wants a length of 0 or more, got %d", n)
	}
	s := text(v)
	if utf8.RuneCountInString(s) <= n {
		return s, nil
	}
	i := 0
	for range n {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + "…", nil
}

func join(sep string, v any) (string, error) {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		rv = rv.Elem()
	}
	var parts []string
	switch rv.Kind() {
	case reflect.Invalid:
		return "", nil
	case reflect.Slice, reflect.Array:
		for i := range rv.Len() {
			parts = append(parts, text(rv.Index(i).Interface()))
		}
	case reflect.Map:
		for _, k := range rv.MapKeys() {
			parts = append(parts, text(k.Interface())+"="+text(rv.MapIndex(k).Interface()))
		}
		slices.Sort(parts)
	default:
		return "", fmt.Errorf("join wants a list or a map, got %s", rv.Type())
	}
	return strings.Join(parts, sep), nil
}

func orDefault(def, v any) any {
	rv := reflect.ValueOf(v)
	switch {
	case !rv.IsValid(), rv.IsZero():
		return def
	case rv.Kind() == reflect.Map || rv.Kind() == reflect.Slice:
		if rv.Len() == 0 {
			return def
		}
	}
	return v
}
