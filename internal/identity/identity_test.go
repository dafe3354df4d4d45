package identity

import (
	"errors"
	"reflect"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"
)

func TestImpersonation(t *testing.T) {
	f, err := NewFactory(&rest.Config{Host: "https://127.0.0.1:6443"}, Policy{ExtraAllowList: []string{"scopes"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		id   Identity
		want transport.ImpersonationConfig
	}{
		{"user with groups, uid and extra",
			Identity{Username: "alice", UID: "u-1", Groups: []string{"dev", "system:authenticated"}, Extra: map[string][]string{"scopes": {"view"}, "credential-id": {"x"}}},
			transport.ImpersonationConfig{UserName: "alice", UID: "u-1", Groups: []string{"dev"}, Extra: map[string][]string{"scopes": {"view"}}}},
		{"service account by username only",
			Identity{Username: "system:serviceaccount:ci:deployer", UID: "u-2", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ci"}, Extra: map[string][]string{"scopes": {"x"}}},
			transport.ImpersonationConfig{UserName: "system:serviceaccount:ci:deployer"}},
		{"no extra kept unless allowed",
			Identity{Username: "bob", Extra: map[string][]string{"authentication.kubernetes.io/pod-name": {"p"}}},
			transport.ImpersonationConfig{UserName: "bob"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := f.impersonation(tc.id); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("impersonation = %+v, want %+v", got, tc.want)
			}
		})
	}
	all, _ := NewFactory(&rest.Config{Host: "https://127.0.0.1:6443"}, Policy{ExtraAllowList: []string{"*"}})
	if got := all.impersonation(Identity{Username: "a", Extra: map[string][]string{"k": {"v"}}}); got.Extra["k"] == nil {
		t.Errorf("\"*\" did not keep every extra key: %+v", got)
	}
}

func TestCheckRefuses(t *testing.T) {
	f, err := NewFactory(&rest.Config{Host: "https://127.0.0.1:6443"}, Policy{
		DenyUsers: []string{"system:serviceaccount:argocd:argocd-application-controller"}, DenyGroups: []string{"bots"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		id     Identity
		refuse bool
	}{
		{Identity{}, true},
		{Identity{Username: "system:serviceaccount:argocd:argocd-application-controller"}, true},
		{Identity{Username: "robot", Groups: []string{"bots"}}, true},
		{Identity{Username: "alice", Groups: []string{"dev"}}, false},
	}
	for _, tc := range cases {
		err := f.Check(tc.id)
		if refused := errors.Is(err, ErrRefused); refused != tc.refuse {
			t.Errorf("Check(%+v) = %v, want refused %v", tc.id, err, tc.refuse)
		}
		if _, _, cerr := f.ClientFor(tc.id); (cerr != nil) != tc.refuse {
			t.Errorf("ClientFor(%+v) error %v, want refused %v", tc.id, cerr, tc.refuse)
		}
	}
}

func TestTheOperatorsConfigIsNeverModified(t *testing.T) {
	base := &rest.Config{Host: "https://127.0.0.1:6443", BearerToken: "operator"}
	f, err := NewFactory(base, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.ConfigFor(Identity{Username: "alice", Groups: []string{"dev"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Impersonate.UserName != "alice" || base.Impersonate.UserName != "" {
		t.Errorf("impersonating config %+v; base %+v", cfg.Impersonate, base.Impersonate)
	}
	if _, err := NewFactory(cfg, Policy{}); err == nil {
		t.Error("a factory accepted an impersonating base config")
	}
}
