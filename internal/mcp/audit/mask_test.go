package audit

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMask(t *testing.T) {
	for _, tc := range []struct {
		name        string
		args        string
		mustHave    []string
		mustNotHave []string
	}{
		{"plain read arguments are kept", `{"resource":"pods","namespace":"team-a"}`,
			[]string{`"resource":"pods"`, `"namespace":"team-a"`}, nil},
		{"credential-named fields", `{"name":"x","token":"abc123","nested":{"apiKey":"k-999"}}`,
			[]string{`"name":"x"`, "<redacted: 6 bytes>"}, []string{"abc123", "k-999"}},
		{"secret manifest", `{"manifest":"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2\ndata:\n  key: c2VjcmV0\n"}`,
			[]string{"name: db", "redacted"}, []string{"hunter2", "c2VjcmV0"}},
		{"env in a deployment manifest", `{"manifest":"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        env:\n        - name: DB_PASSWORD\n          value: s3cr3t-value\n        - name: MODE\n          value: prod\n"}`,
			[]string{"name: web", "prod"}, []string{"s3cr3t-value"}},
		{"patch of a secret", `{"resource":"secrets","name":"db","patch":"{\"data\":{\"password\":\"aHVudGVyMg==\"}}"}`,
			[]string{"redacted: a patch of a Secret"}, []string{"aHVudGVyMg"}},
		{"patch with an env value", `{"resource":"deployments","name":"web","patch":"{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\",\"env\":[{\"name\":\"API_TOKEN\",\"value\":\"tok-777\"}]}]}}}}"}`,
			[]string{"API_TOKEN"}, []string{"tok-777"}},
		{"kubectl literals and flags", `{"args":["create","secret","generic","x","--from-literal=password=pw-42","--token","t-1","--as=admin"]}`,
			[]string{"--from-literal=password=<redacted: 5 bytes>", "--as=admin"}, []string{"pw-42", "t-1"}},
		{"not JSON", `{{{`, []string{"unparseable"}, nil},
		{"a prompt with a pasted password", `{"prompt":"why can't the app log in? it uses password=hunter2-pw and\nDB_TOKEN: tok-123456\nand postgres://app:url-secret@db:5432","namespace":"team-a"}`,
			[]string{"why can't the app log in?", "password=<redacted", `"namespace":"team-a"`, "postgres://app:"}, []string{"hunter2-pw", "tok-123456", "url-secret"}},
		{"a prompt with a bearer token", `{"prompt":"curl -H 'Authorization: Bearer abcdef0123456789' fails"}`,
			[]string{"Bearer <redacted"}, []string{"abcdef0123456789"}},
		{"a plain prompt is kept as typed", `{"prompt":"why are the checkout pods pending?"}`,
			[]string{`{"prompt":"why are the checkout pods pending?"}`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(Mask(json.RawMessage(tc.args)))
			for _, s := range tc.mustHave {
				if !strings.Contains(got, s) {
					t.Errorf("masked %s lacks %q", got, s)
				}
			}
			for _, s := range tc.mustNotHave {
				if strings.Contains(got, s) {
					t.Errorf("masked %s still holds %q", got, s)
				}
			}
		})
	}
}
