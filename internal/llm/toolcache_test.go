package llm

import (
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"
)

func TestToolCacheConvertsOncePerNameDescriptionAndSchema(t *testing.T) {
	var c ToolCache[string]
	calls := 0
	convert := func(t Tool) (string, error) {
		calls++
		if t.Name == "bad" {
			return "", errors.New("not a schema")
		}
		return t.Name + "|" + t.Description + "|" + string(t.Parameters) + "|" + strconv.Itoa(calls), nil
	}
	list := Tool{Name: "list", Description: "List.", Parameters: json.RawMessage(`{"type":"object"}`)}
	redescribed := list
	redescribed.Description = "List things."
	reshaped := list
	reshaped.Parameters = json.RawMessage(`{"type":"object","properties":{"n":{"type":"integer"}}}`)
	for _, step := range []struct {
		tool      Tool
		want      string
		wantCalls int
		wantErr   bool
	}{
		{list, `list|List.|{"type":"object"}|1`, 1, false},
		{list, `list|List.|{"type":"object"}|1`, 1, false}, // a hit
		{redescribed, `list|List things.|{"type":"object"}|2`, 2, false},
		{reshaped, `list|List.|{"type":"object","properties":{"n":{"type":"integer"}}}|3`, 3, false},
		{reshaped, `list|List.|{"type":"object","properties":{"n":{"type":"integer"}}}|3`, 3, false},
		{Tool{Name: "bad"}, "", 4, true},
		{Tool{Name: "bad"}, "", 5, true}, // errors are not cached
	} {
		got, err := c.Get(step.tool, convert)
		if (err != nil) != step.wantErr || got != step.want || calls != step.wantCalls {
			t.Fatalf("Get(%s %q): %q, %v after %d conversions; want %q after %d", step.tool.Name, step.tool.Description, got, err, calls, step.want, step.wantCalls)
		}
	}
}

func TestToolCacheIsBounded(t *testing.T) {
	var c ToolCache[int]
	for i := range 3 * maxCachedTools {
		if _, err := c.Get(Tool{Name: "t" + strconv.Itoa(i)}, func(Tool) (int, error) { return i, nil }); err != nil {
			t.Fatal(err)
		}
		if n := len(c.m); n > maxCachedTools {
			t.Fatalf("%d tools cached, bound is %d", n, maxCachedTools)
		}
	}
}

func TestToolCacheConcurrentFirstCallsShareTheFirstValue(t *testing.T) {
	var c ToolCache[*int]
	tool := Tool{Name: "list"}
	var wg sync.WaitGroup
	got := make([]*int, 16)
	for i := range got {
		wg.Go(func() {
			v, err := c.Get(tool, func(Tool) (*int, error) { n := i; return &n, nil })
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for i, v := range got {
		if v != got[0] {
			t.Fatalf("call %d got value %d, call 0 got %d: concurrent first calls must share one value", i, *v, *got[0])
		}
	}
}
