package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// demoUser is a person of the demo, authenticated by a static bearer token.
type demoUser struct {
	Name   string
	UID    string
	Groups []string
	// Namespace is the default namespace of the user's kubeconfig ("" for admin).
	Namespace string
	Token     string
}

// demoUsers returns the demo people with fresh random tokens. admin is a cluster admin
// through system:masters; alice (team dev) and bob (team ops) each own one namespace,
// which is the RBAC set up by demo.yaml.
func demoUsers() ([]demoUser, error) {
	users := []demoUser{
		{Name: "admin", UID: "dev-uid-admin", Groups: []string{"system:masters"}},
		{Name: "alice", UID: "dev-uid-alice", Groups: []string{"dev"}, Namespace: "team-a"},
		{Name: "bob", UID: "dev-uid-bob", Groups: []string{"ops"}, Namespace: "team-b"},
	}
	for i := range users {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("generating a token: %w", err)
		}
		users[i].Token = hex.EncodeToString(b)
	}
	return users, nil
}

// writeTokenFile writes the kube-apiserver --token-auth-file: one CSV line per user,
// token,user,uid,"group1,group2".
func writeTokenFile(dir string, users []demoUser) (string, error) {
	var b strings.Builder
	for _, u := range users {
		fmt.Fprintf(&b, "%s,%s,%s,%q\n", u.Token, u.Name, u.UID, strings.Join(u.Groups, ","))
	}
	path := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return "", fmt.Errorf("writing token file: %w", err)
	}
	return path, nil
}
