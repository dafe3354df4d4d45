package tools

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// redactKubectlOutput applies the output policy's redaction to what kubectl printed.
// Objects printed as JSON or YAML are redacted like the other tools' (Redact); text
// (describe, rollout history, set env --list) has the values of credential-like
// "name: value" and "NAME=value" lines replaced. Formats that cannot be redacted
// (templates, jsonpath, custom columns, --raw) are refused before kubectl runs.
func redactKubectlOutput(out, format string) (string, error) {
	switch format {
	case "json", "yaml":
		objs, err := decodeObjects(out)
		if err != nil {
			return "", fmt.Errorf("it could not be parsed to redact secret values (%w); narrow the request or use the default output", err)
		}
		var b strings.Builder
		for i, obj := range objs {
			redactObjectOrList(obj)
			if format == "json" {
				enc := json.NewEncoder(&b)
				enc.SetEscapeHTML(false) // "<redacted ...>" as kubectl would print it
				enc.SetIndent("", "    ")
				if err := enc.Encode(obj); err != nil {
					return "", err
				}
				continue
			}
			data, err := yaml.Marshal(obj)
			if err != nil {
				return "", err
			}
			if i > 0 {
				b.WriteString("---\n")
			}
			b.Write(data)
		}
		return b.String(), nil
	}
	return credentialLine.ReplaceAllStringFunc(out, redactCredentialLine), nil
}

// decodeObjects reads the JSON or YAML documents of out.
func decodeObjects(out string) ([]map[string]any, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewBufferString(out), 4096)
	var objs []map[string]any
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		if obj != nil {
			objs = append(objs, obj)
		}
	}
}

// redactObjectOrList redacts an object, or each item of a List.
func redactObjectOrList(obj map[string]any) {
	if items, ok := obj["items"].([]any); ok {
		for _, item := range items {
			if m, ok := item.(map[string]any); ok {
				Redact(&unstructured.Unstructured{Object: m}, false)
			}
		}
	}
	Redact(&unstructured.Unstructured{Object: obj}, false)
}

// credentialLine matches an indented "key: value" or "KEY=value" line of kubectl's text
// output (describe prints env vars this way, set env --list the other).
var credentialLine = regexp.MustCompile(`(?m)^([ \t]*)([A-Za-z0-9_.\-]+)(:[ \t]+|=)([^\n]*\S)[ \t]*$`)

// sizeOnly is how describe prints Secret data: sizes, not values.
var sizeOnly = regexp.MustCompile(`^\d+ bytes$`)

func redactCredentialLine(line string) string {
	m := credentialLine.FindStringSubmatch(line)
	key, value := m[2], m[4]
	if !credentialName.MatchString(key) || strings.HasSuffix(strings.ToLower(key), "name") ||
		sizeOnly.MatchString(value) || strings.HasPrefix(value, "<") {
		return line
	}
	return m[1] + key + m[3] + redactedValue(value)
}
