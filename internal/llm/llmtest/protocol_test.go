package llmtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Each case is one request body and the words of the refusal, "" for a body the real
// API accepts.
type ruleCase struct {
	name, body, refusal string
}

func checkRules(t *testing.T, p Protocol, path string, cases []ruleCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rej := p.Check(path, []byte(c.body))
			switch {
			case c.refusal == "" && rej != nil:
				t.Fatalf("refused a valid request: %s", rej.Message)
			case c.refusal == "":
				return
			case rej == nil:
				t.Fatalf("accepted a request %s refuses (%q)", p, c.refusal)
			case rej.Status != http.StatusBadRequest || !strings.Contains(rej.Message, c.refusal):
				t.Fatalf("refusal %d %q, want 400 with %q", rej.Status, rej.Message, c.refusal)
			case !strings.Contains(rej.Body, jsonText(t, rej.Message)):
				t.Fatalf("the body %s does not carry the message", rej.Body)
			}
		})
	}
}

// jsonText is s as it appears inside a JSON string.
func jsonText(t *testing.T, s string) string {
	t.Helper()
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Trim(string(raw), `"`)
}

func TestOpenAIRules(t *testing.T) {
	const (
		user      = `{"role":"user","content":"q"}`
		calls     = `{"role":"assistant","content":null,"tool_calls":[{"id":"call_a","type":"function","function":{"name":"f","arguments":"{}"}},{"id":"call_b","type":"function","function":{"name":"g","arguments":"{}"}}]}`
		resultA   = `{"role":"tool","tool_call_id":"call_a","content":"ok"}`
		resultB   = `{"role":"tool","tool_call_id":"call_b","content":"ok"}`
		tools     = `"tools":[{"type":"function","function":{"name":"f"}}]`
		noContent = `{"role":"assistant"}`
	)
	body := func(msgs ...string) string {
		return `{"model":"m",` + tools + `,"messages":[` + strings.Join(msgs, ",") + `]}`
	}
	checkRules(t, OpenAI, "/v1/chat/completions", []ruleCase{
		{"answered calls, in any order", body(`{"role":"system","content":"s"}`, user, calls, resultB, resultA, `{"role":"assistant","content":"done"}`, user), ""},
		{"a tool message first", body(resultA, user), "Invalid parameter: messages with role 'tool' must be a response to a"},
		{"a tool message after a user message", body(user, calls, resultA, resultB, user, resultA), "messages with role 'tool' must be a response"},
		{"a result with another id", body(user, calls, resultA, `{"role":"tool","tool_call_id":"s1","content":"ok"}`), "'tool_call_id' of 's1' not found in 'tool_calls' of previous message"},
		{"an id of an earlier assistant message", body(user, calls, resultA, resultB, `{"role":"assistant","content":null,"tool_calls":[{"id":"call_c","type":"function","function":{"name":"f","arguments":"{}"}}]}`, resultA), "'tool_call_id' of 'call_a' not found"},
		{"a call answered twice", body(user, calls, resultA, resultA, resultB), "'tool_call_id' of 'call_a' not found"},
		{"a result without id", body(user, calls, `{"role":"tool","content":"ok"}`), "Missing required parameter: 'messages.[2].tool_call_id'"},
		{"a call left unanswered before a user message", body(user, calls, resultA, user), "The following tool_call_ids did not have response messages: call_b"},
		{"calls unanswered at the end", body(user, calls), "did not have response messages: call_a, call_b"},
		{"an empty assistant message", body(user, noContent, user), "Invalid value for 'messages.[1].content'"},
		{"no messages", body(), "[] is too short - 'messages'"},
		{"tool_choice without tools", `{"model":"m","tool_choice":"none","messages":[` + user + `]}`, "'tool_choice' is only allowed when 'tools' are specified"},
		{"tool_choice none with tools", `{"model":"m",` + tools + `,"tool_choice":"none","messages":[` + user + `]}`, ""},
	})
	if OpenAI.Check("/v1/models", []byte(`{}`)) != nil {
		t.Error("a request that is not a chat completion was checked as one")
	}
}

func TestAnthropicRules(t *testing.T) {
	const (
		user    = `{"role":"user","content":"q"}`
		uses    = `{"role":"assistant","content":[{"type":"text","text":"let me look"},{"type":"tool_use","id":"toolu_a","name":"f","input":{}},{"type":"tool_use","id":"toolu_b","name":"g","input":{}}]}`
		results = `{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_b","content":"ok"},{"type":"tool_result","tool_use_id":"toolu_a","content":"no","is_error":true},{"type":"text","text":"and now?"}]}`
		tools   = `"tools":[{"name":"f","input_schema":{"type":"object"}}]`
	)
	body := func(msgs ...string) string {
		return `{"model":"m","max_tokens":10,` + tools + `,"messages":[` + strings.Join(msgs, ",") + `]}`
	}
	result := func(ids ...string) string {
		var blocks []string
		for _, id := range ids {
			blocks = append(blocks, `{"type":"tool_result","tool_use_id":"`+id+`","content":"ok"}`)
		}
		return `{"role":"user","content":[` + strings.Join(blocks, ",") + `]}`
	}
	checkRules(t, Anthropic, "/v1/messages", []ruleCase{
		{"answered tool uses", body(user, uses, results, `{"role":"assistant","content":"done"}`, user), ""},
		{"no messages", body(), "at least one message is required"},
		{"an assistant message first", body(`{"role":"assistant","content":"hi"}`, user), `first message must use the "user" role`},
		{"two user messages in a row", body(user, user), `roles must alternate between "user" and "assistant", but found multiple "user" roles in a row`},
		{"a system role in messages", body(user, `{"role":"system","content":"s"}`), "Input should be 'user' or 'assistant'"},
		{"a result with another id", body(user, uses, result("toolu_a", "s1")), "unexpected `tool_use_id` found in `tool_result` blocks: s1"},
		{"a result without its tool use", body(user, `{"role":"assistant","content":"hi"}`, result("toolu_a")), "messages.2.content.0: unexpected `tool_use_id`"},
		{"a result in the first message", body(result("toolu_a")), "messages.0.content.0: unexpected `tool_use_id`"},
		{"a tool use left unanswered", body(user, uses, result("toolu_a")), "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_b"},
		{"tool uses answered by a later message", body(user, uses, user, `{"role":"assistant","content":"x"}`, result("toolu_a", "toolu_b")), "ids were found without `tool_result` blocks immediately after: toolu_a, toolu_b"},
		{"a tool use at the end", body(user, uses), "messages.1: `tool_use` ids were found without `tool_result` blocks"},
		{"text before the results", body(user, uses, `{"role":"user","content":[{"type":"text","text":"here"},{"type":"tool_result","tool_use_id":"toolu_a","content":"ok"},{"type":"tool_result","tool_use_id":"toolu_b","content":"ok"}]}`), "Did not find 2 `tool_result` block(s) at the beginning of this message"},
		{"a tool use id out of pattern", body(user, `{"role":"assistant","content":[{"type":"tool_use","id":"call.1","name":"f","input":{}}]}`, result("call.1")), "String should match pattern '^[a-zA-Z0-9_-]+$'"},
		{"a tool use id twice", body(user, `{"role":"assistant","content":[{"type":"tool_use","id":"s1","name":"f","input":{}}]}`, result("s1"), `{"role":"assistant","content":[{"type":"tool_use","id":"s1","name":"f","input":{}}]}`, result("s1")), "`tool_use` ids must be unique"},
		{"an empty text block", body(`{"role":"user","content":[{"type":"text","text":""}]}`), "text content blocks must be non-empty"},
		{"tool blocks without tools", `{"model":"m","max_tokens":10,"messages":[` + strings.Join([]string{user, uses, results}, ",") + `]}`, "Requests which include `tool_use` or `tool_result` blocks must define tools."},
		{"tool blocks with tools and tool_choice none", `{"model":"m","max_tokens":10,` + tools + `,"tool_choice":{"type":"none"},"messages":[` + strings.Join([]string{user, uses, results}, ",") + `]}`, ""},
	})
}

func TestGeminiRules(t *testing.T) {
	const (
		user      = `{"role":"user","parts":[{"text":"q"}]}`
		calls     = `{"role":"model","parts":[{"text":"let me look"},{"functionCall":{"name":"f","args":{}}},{"functionCall":{"name":"g","args":{}}}]}`
		responses = `{"role":"user","parts":[{"functionResponse":{"name":"g","response":{"output":"ok"}}},{"functionResponse":{"name":"f","response":{"error":"no"}}},{"text":"and now?"}]}`
		withIDs   = `{"role":"model","parts":[{"functionCall":{"id":"s1","name":"f","args":{}}}]}`
	)
	body := func(contents ...string) string {
		return `{"contents":[` + strings.Join(contents, ",") + `]}`
	}
	response := func(id, name string) string {
		return `{"role":"user","parts":[{"functionResponse":{"id":"` + id + `","name":"` + name + `","response":{}}}]}`
	}
	checkRules(t, Gemini, "/v1beta/models/gemini-2.5-flash:generateContent", []ruleCase{
		{"answered calls", body(user, calls, responses, `{"role":"model","parts":[{"text":"done"}]}`, user), ""},
		{"answered calls with ids", body(user, withIDs, response("s1", "f")), ""},
		{"no contents", body(), "contents is not specified"},
		{"an unknown role", body(`{"role":"assistant","parts":[{"text":"q"}]}`), "Please use a valid role: user, model."},
		{"two user turns in a row", body(user, user), "Please ensure that multiturn requests alternate between user and model."},
		{"a function call first", body(calls, responses), "function call turn comes immediately after a user turn or after a function response turn"},
		{"a response without its call", body(user, `{"role":"model","parts":[{"text":"hi"}]}`, response("", "f")), "function response turn comes immediately after a function call turn"},
		{"a response too few", body(user, calls, response("", "f")), "the number of function response parts is equal to the number of function call parts"},
		{"calls unanswered at the end", body(user, calls), "the number of function response parts is equal"},
		{"calls answered by text", body(user, calls, user), "the number of function response parts is equal"},
		{"a response of another name", body(user, withIDs, response("s1", "g")), "the name of each function response part matches"},
		{"a response with another id", body(user, withIDs, response("call_1", "f")), "the id of each function response part matches"},
		{"a response with an id its call lacks", body(user, `{"role":"model","parts":[{"functionCall":{"name":"f","args":{}}}]}`, response("s1", "f")), "the id of each function response part matches"},
	})
	if Gemini.Check("/v1beta/models/gemini-2.5-flash:countTokens", []byte(`{}`)) != nil {
		t.Error("a request that is not generateContent was checked as one")
	}
}
