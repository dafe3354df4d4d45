package redact

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestCredentialName(t *testing.T) {
	for name, want := range map[string]bool{
		"password": true, "DB_PASSWORD": true, "PGPASSWORD": true, "db-pass": true, "DB_PASS": true, "MYSQL_PWD": true,
		"api_key": true, "apiKey": true, "SIGNING_KEY": true, "token": true, "GITHUB_TOKEN": true, "client-secret": true,
		"AWS_SECRET_ACCESS_KEY": true, "credentials": true, "auth": true, "SENTRY_DSN": true, "docker-password": true,
		"secretName": false, "TOKEN_SECRET_NAME": false, "serviceAccountName": false, "names": false,
		"MODE": false, "key": false, "path": false, "image": false, "passive": false, "keyring": false,
	} {
		if got := CredentialName(name); got != want {
			t.Errorf("CredentialName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestHasPlaceholder(t *testing.T) {
	for s, want := range map[string]bool{
		Placeholder("hunter2"):                      true,
		`{"value":"<redacted: 7 bytes>"}`:           true,
		"<redacted: a patch of a Secret, 20 bytes>": true,
		"redacted":  false,
		"<redacted": false,
		"the value was <redacted> by the platform policy": true,
		"<set to the key 'password' in secret 'db'>":      false,
	} {
		if got := HasPlaceholder(s); got != want {
			t.Errorf("HasPlaceholder(%q) = %v, want %v", s, got, want)
		}
	}
}

// yamlOf decodes a YAML test object.
func yamlOf(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestObject(t *testing.T) {
	lastApplied := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{"spec":{"containers":[{"name":"app","env":[{"name":"DB_PASSWORD","value":"la-env-value"},{"name":"MODE","value":"fast"}]}]}}}}`
	secretLastApplied := `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"data":{"blob":"bGEtc2VjcmV0LWRhdGE="}}`
	cases := []struct {
		name        string
		obj         string
		removed     []string
		mustHave    []string
		mustNotHave []string
	}{
		{name: "Secret data and stringData, whatever the keys",
			obj:      "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  blob: c2VjcmV0LWRhdGE=\nstringData:\n  config: plain-secret\n",
			removed:  []string{"c2VjcmV0LWRhdGE=", "plain-secret"},
			mustHave: []string{"blob: '<redacted: 16 bytes>'", "config: '<redacted: 12 bytes>'", "name: db"}},
		{name: "a Secret's last-applied copy",
			obj:         "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  annotations:\n    " + LastApplied + ": '" + secretLastApplied + "'\ndata:\n  blob: bGEtc2VjcmV0LWRhdGE=\n",
			removed:     []string{"bGEtc2VjcmV0LWRhdGE=", "bGEtc2VjcmV0LWRhdGE="},
			mustNotHave: []string{"bGEtc2VjcmV0LWRhdGE="}},
		{name: "last-applied of any kind keeps what is not secret",
			obj:         "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n    " + LastApplied + ": '" + lastApplied + "'\n",
			removed:     []string{"la-env-value"},
			mustHave:    []string{`"value":"fast"`, `"name":"DB_PASSWORD"`},
			mustNotHave: []string{"la-env-value"}},
		{name: "a last-applied that is not JSON goes whole",
			obj:     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations:\n    " + LastApplied + ": 'not json'\n",
			removed: []string{"not json"}},
		{name: "credential-like env values anywhere, a URL's password in the others",
			obj:         "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: app\n    env:\n    - name: API_TOKEN\n      value: tok-123\n    - name: DATABASE_URL\n      value: postgres://app:url-pass-9@db:5432/x\n    - name: MODE\n      value: fast\n    - name: DB_SECRET_NAME\n      value: db-creds\n",
			removed:     []string{"tok-123", "url-pass-9"},
			mustHave:    []string{"value: fast", "value: db-creds", "postgres://app:<redacted: 10 bytes>@db:5432/x"},
			mustNotHave: []string{"tok-123", "url-pass-9"}},
		{name: "CRD parameters are name/value pairs too",
			obj:     "apiVersion: tekton.dev/v1\nkind: PipelineRun\nspec:\n  params:\n  - name: registry-password\n    value: reg-pw\n",
			removed: []string{"reg-pw"}},
		{name: "credential flags in container args",
			obj:      "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: app\n    args: [--db-password=arg-pw, --token, arg-tok, --port=80, PGPASSWORD=pg-pw, --dsn=mysql://u:dsn-pw@h/db]\n",
			removed:  []string{"arg-pw", "arg-tok", "pg-pw", "mysql://u:dsn-pw@h/db"},
			mustHave: []string{"--port=80"}},
		{name: "TokenRequest status.token and TokenReview spec.token",
			obj:      "apiVersion: v1\nkind: List\nitems:\n- apiVersion: authentication.k8s.io/v1\n  kind: TokenRequest\n  status:\n    token: eyJhbGciOi.request\n    expirationTimestamp: \"2030-01-01T00:00:00Z\"\n- apiVersion: authentication.k8s.io/v1\n  kind: TokenReview\n  spec:\n    token: eyJhbGciOi.review\n",
			removed:  []string{"eyJhbGciOi.request", "eyJhbGciOi.review"},
			mustHave: []string{"expirationTimestamp"}},
		{name: "a List of Secrets",
			obj:     "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  data:\n    a: YQ==\n- apiVersion: v1\n  kind: Secret\n  data:\n    b: Yg==\n",
			removed: []string{"YQ==", "Yg=="}},
		{name: "ConfigMap data is not secret",
			obj:      "apiVersion: v1\nkind: ConfigMap\ndata:\n  password-policy: strict\n",
			mustHave: []string{"password-policy: strict"}},
		{name: "a Secret of another group is not a core Secret",
			obj:      "apiVersion: example.com/v1\nkind: Secret\ndata:\n  a: b\n",
			mustHave: []string{"a: b"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := yamlOf(t, tc.obj)
			removed := Object(obj)
			slices.Sort(removed)
			want := slices.Clone(tc.removed)
			slices.Sort(want)
			if !slices.Equal(removed, want) {
				t.Errorf("removed %q, want %q", removed, want)
			}
			out := yamlText(obj)
			for _, s := range tc.mustHave {
				if !strings.Contains(out, s) {
					t.Errorf("lacks %q:\n%s", s, out)
				}
			}
			for _, s := range append(tc.mustNotHave, tc.removed...) {
				if strings.Contains(out, s) {
					t.Errorf("still holds %q:\n%s", s, out)
				}
			}
			// Idempotent: a redacted object has nothing left to redact.
			if again := Object(obj); len(again) != 0 || yamlText(obj) != out {
				t.Errorf("a second pass removed %q", again)
			}
		})
	}
}

func TestText(t *testing.T) {
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
	cases := []struct {
		name, in    string
		removed     []string
		mustHave    []string
		mustNotHave []string
	}{
		{name: "describe env lines",
			in:       "    Environment:\n      DB_PASSWORD:  hunter2\n      MODE:         fast\n      API_KEY:      <set to the key 'k' in secret 's'>\n",
			removed:  []string{"hunter2"},
			mustHave: []string{"MODE:         fast", "<set to the key 'k' in secret 's'>", "DB_PASSWORD:  <redacted: 7 bytes>"}},
		{name: "describe secret sizes", in: "Data\n====\npassword:  19 bytes\n", mustHave: []string{"password:  19 bytes"}},
		{name: "set env --list", in: "# Deployment web, container app\nDB_PASSWORD=hunter2\nMODE=fast\n", removed: []string{"hunter2"}, mustHave: []string{"MODE=fast"}},
		{name: "a token alone", in: jwt + "\n", removed: []string{jwt}},
		{name: "a bearer header in a log", in: `GET /x Authorization: Bearer abcdefgh12345 200`, removed: []string{"abcdefgh12345"}},
		{name: "a private key", in: "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n", mustNotHave: []string{"MIIEow"}},
		{name: "a URL's password", in: "connecting to redis://default:url-pw@redis:6379\n", removed: []string{"url-pw"}},
		{name: "the last-applied annotation line", in: "  " + LastApplied + ": {\"data\":{\"a\":\"b\"}}\n", mustNotHave: []string{`"a":"b"`}},
		{name: "objects are redacted as objects", in: "apiVersion: v1\nkind: Secret\ndata:\n  blob: YmxvYg==\n", removed: []string{"YmxvYg=="}},
		{name: "a table is left alone", in: "NAME   TYPE     DATA   AGE\ndb     Opaque   1      5s\n", mustHave: []string{"db     Opaque   1      5s"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, removed := Text(tc.in)
			for _, v := range tc.removed {
				if !slices.Contains(removed, v) {
					t.Errorf("removed %q, want %q among them", removed, v)
				}
			}
			for _, s := range tc.mustHave {
				if !strings.Contains(out, s) {
					t.Errorf("lacks %q:\n%s", s, out)
				}
			}
			for _, s := range append(tc.mustNotHave, tc.removed...) {
				if strings.Contains(out, s) {
					t.Errorf("still holds %q:\n%s", s, out)
				}
			}
			if again, more := Text(out); again != out || len(more) != 0 {
				t.Errorf("a second pass changed the text (removed %q):\n%s", more, again)
			}
		})
	}
}

func TestDocuments(t *testing.T) {
	cases := []struct {
		name, in, want string
		fails          bool
	}{
		{name: "yaml documents", in: "apiVersion: v1\nkind: Secret\ndata:\n  a: YQ==\n---\napiVersion: v1\nkind: ConfigMap\ndata:\n  a: b\n",
			want: "apiVersion: v1\ndata:\n  a: '<redacted: 4 bytes>'\nkind: Secret\n---\napiVersion: v1\ndata:\n  a: b\nkind: ConfigMap\n"},
		{name: "json, without HTML escapes", in: `{"apiVersion":"v1","kind":"Secret","data":{"a":"YQ=="}}`,
			want: "{\n    \"apiVersion\": \"v1\",\n    \"data\": {\n        \"a\": \"<redacted: 4 bytes>\"\n    },\n    \"kind\": \"Secret\"\n}\n"},
		{name: "not objects", in: "NAME READY\nweb  1/1\n", fails: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := Documents(tc.in)
			if tc.fails != (err != nil) {
				t.Fatalf("err = %v, want failure %v", err, tc.fails)
			}
			if out != tc.want {
				t.Errorf("got\n%s\nwant\n%s", out, tc.want)
			}
		})
	}
}

func TestArguments(t *testing.T) {
	kubectl := func(args ...string) string {
		b, err := json.Marshal(map[string][]string{"args": args})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cases := []struct {
		name, in    string
		same        bool // returned byte for byte
		mustHave    []string
		mustNotHave []string
	}{
		{name: "nothing to redact", in: `{"resource": "pods",  "namespace":"team-a"}`, same: true},
		{name: "a manifest without secrets is kept as written", in: `{"manifest":"kind: ConfigMap\napiVersion: v1\ndata: {a: b}\n"}`, same: true},
		{name: "a Secret's stringData in an apply",
			in:          `{"manifest":"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  blob: apply-secret-value\n"}`,
			mustHave:    []string{"name: db", "<redacted: 18 bytes>"},
			mustNotHave: []string{"apply-secret-value"}},
		{name: "a manifest that does not parse", in: `{"stdin":"{{{ apply-me"}`, mustNotHave: []string{"apply-me"}},
		{name: "kubectl create secret literals", in: kubectl("create", "secret", "generic", "x", "--from-literal=blob=lit-value", "--from-literal", "other=lit-two"),
			mustHave: []string{"--from-literal=blob=<redacted: 9 bytes>", "other=<redacted: 7 bytes>"}, mustNotHave: []string{"lit-value", "lit-two"}},
		{name: "a ConfigMap's literals are not secret unless named so", in: kubectl("create", "configmap", "x", "--from-literal=mode=fast", "--from-literal=db-password=cm-pw"),
			mustHave: []string{"mode=fast"}, mustNotHave: []string{"cm-pw"}},
		{name: "credential flags", in: kubectl("create", "secret", "docker-registry", "r", "--docker-password=dock-pw", "--docker-username=me", "--token", "tok-pw"),
			mustHave: []string{"--docker-username=me"}, mustNotHave: []string{"dock-pw", "tok-pw"}},
		{name: "set env and run --env", in: kubectl("set", "env", "deploy/web", "DB_PASSWORD=env-pw", "MODE=fast"),
			mustHave: []string{"MODE=fast"}, mustNotHave: []string{"env-pw"}},
		{name: "run --env", in: kubectl("run", "x", "--image=busybox", "--env=API_TOKEN=run-tok", "--env", "DATABASE_URL=pg://u:run-url-pw@h"),
			mustNotHave: []string{"run-tok", "run-url-pw"}},
		{name: "kubectl patch of a secret", in: kubectl("patch", "secret", "db", "-p", `{"data":{"blob":"cGF0Y2g="}}`), mustNotHave: []string{"cGF0Y2g="}},
		{name: "kubectl patch -p{...} of an env value", in: kubectl("patch", "deploy", "web", `-p{"spec":{"template":{"spec":{"containers":[{"name":"app","env":[{"name":"API_KEY","value":"p-key"}]}]}}}}`),
			mustNotHave: []string{"p-key"}},
		{name: "kubectl annotate last-applied", in: kubectl("annotate", "deploy", "web", LastApplied+`={"x":"la-arg"}`), mustNotHave: []string{"la-arg"}},
		{name: "kubectl run --overrides", in: kubectl("run", "x", "--image=i", `--overrides={"spec":{"containers":[{"name":"x","env":[{"name":"PASSWORD","value":"ovr-pw"}]}]}}`),
			mustNotHave: []string{"ovr-pw"}},
		{name: "a Secret patch", in: `{"resource":"secrets","name":"db","patch":"{\"stringData\":{\"blob\":\"rsp\"}}"}`, mustNotHave: []string{"rsp"}},
		{name: "a JSON patch of an env value", in: `{"resource":"deployments","name":"web","patchType":"json","patch":"[{\"op\":\"replace\",\"path\":\"/spec/template/spec/containers/0/env/0/value\",\"value\":\"jp-val\"}]"}`,
			mustNotHave: []string{"jp-val"}},
		{name: "a JSON patch adding an env var", in: `{"resource":"deployments","name":"web","patchType":"json","patch":"[{\"op\":\"add\",\"path\":\"/spec/template/spec/containers/0/env/-\",\"value\":{\"name\":\"API_TOKEN\",\"value\":\"jp-tok\"}}]"}`,
			mustHave: []string{"API_TOKEN"}, mustNotHave: []string{"jp-tok"}},
		{name: "credential-named fields at any depth", in: `{"name":"x","token":"f-tok","nested":{"apiKey":"f-key"}}`, mustHave: []string{`"name":"x"`}, mustNotHave: []string{"f-tok", "f-key"}},
		{name: "not JSON", in: `{"args": DB_PASSWORD=nj-pw`, mustNotHave: []string{"nj-pw"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := Arguments(tc.in)
			if tc.same && out != tc.in {
				t.Errorf("changed arguments with nothing to redact:\n%s\n%s", tc.in, out)
			}
			if json.Valid([]byte(tc.in)) && !json.Valid([]byte(out)) {
				t.Errorf("not JSON any more: %s", out)
			}
			for _, s := range tc.mustHave {
				if !strings.Contains(out, s) {
					t.Errorf("lacks %q: %s", s, out)
				}
			}
			for _, s := range tc.mustNotHave {
				if strings.Contains(out, s) {
					t.Errorf("still holds %q: %s", s, out)
				}
			}
			if again := Arguments(out); again != out {
				t.Errorf("a second pass changed the arguments:\n%s\n%s", out, again)
			}
		})
	}
	if out := Arguments(`{"manifest":"` + strings.Repeat("x", maxArguments) + `"}`); !json.Valid([]byte(out)) || len(out) > 100 {
		t.Errorf("oversized arguments: %.100s", out)
	}
}

func TestScrubber(t *testing.T) {
	var s Scrubber
	if got := s.Scrub("nothing known"); got != "nothing known" || !s.Empty() {
		t.Fatalf("an empty scrubber changed the text: %q", got)
	}
	s.Add("hunter2-long", "abc", base64.StdEncoding.EncodeToString([]byte("decoded-pw")), Placeholder("x"))
	s.Add("hunter2-long") // twice is once
	cases := map[string]string{
		"the password is hunter2-long.":            "the password is <redacted: 12 bytes>.",
		"base64: " + b64("hunter2-long"):           "base64: <redacted: 16 bytes>",
		"it decodes to decoded-pw":                 "it decodes to <redacted: 10 bytes>",
		"abc is too short to be told from a word":  "abc is too short to be told from a word",
		"a placeholder stays <redacted: 1 bytes>":  "a placeholder stays <redacted: 1 bytes>",
		"hunter2-long hunter2-long":                "<redacted: 12 bytes> <redacted: 12 bytes>",
		"the encoded form " + b64("decoded-pw"):    "the encoded form <redacted: 16 bytes>",
		"unrelated text keeps its hunter2 mention": "unrelated text keeps its hunter2 mention",
	}
	for in, want := range cases {
		if got := s.Scrub(in); got != want {
			t.Errorf("Scrub(%q) = %q, want %q", in, got, want)
		}
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestTextOfJSON(t *testing.T) {
	out, removed := Text(`[{"name":"DB_PASSWORD","value":"jp-env"},{"name":"MODE","value":"fast"}]`)
	if strings.Contains(out, "jp-env") || !strings.Contains(out, `"value":"fast"`) || !slices.Equal(removed, []string{"jp-env"}) {
		t.Errorf("a jsonpath of env vars: %s (removed %q)", out, removed)
	}
	in := `{"a": 1}`
	if out, removed := Text(in); out != in || removed != nil {
		t.Errorf("JSON without secrets changed: %s", out)
	}
}

func TestArgumentsHavePlaceholder(t *testing.T) {
	for args, want := range map[string]bool{
		`{"args":["create","secret","generic","x","--from-literal=a=\u003credacted: 9 bytes\u003e"]}`: true,
		`{"manifest":"stringData:\n  a: '<redacted: 3 bytes>'\n"}`:                                    true,
		`{"args":["get","pods"]}`:      false,
		`not json <redacted: 1 bytes>`: true,
	} {
		if got := ArgumentsHavePlaceholder(args); got != want {
			t.Errorf("ArgumentsHavePlaceholder(%s) = %v, want %v", args, got, want)
		}
	}
}
