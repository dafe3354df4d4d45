package catalog

import (
	"encoding/json"
	"fmt"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// The manager publishes the public part of its catalog in this ConfigMap of its own
// namespace, under PublicKey, so that clients without the catalog (kubectl ask ui,
// shell completion) can offer what the platform offers. Every authenticated user may
// read it (the chart grants get on it by name); it holds nothing secret.
const (
	PublicConfigMap = "kubeask-catalog"
	PublicKey       = "catalog.json"
)

// Public is what anyone may know of the catalog: names, descriptions, modes and who may
// use what. It never holds a provider, a provider model id, an endpoint, a Secret
// reference, a timeout or a limit. Build it with Catalog.Public only.
type Public struct {
	DefaultModel   string          `json:"defaultModel,omitempty"`
	DefaultProfile string          `json:"defaultProfile"`
	Models         []PublicModel   `json:"models"`
	Profiles       []PublicProfile `json:"profiles"`
	// AllowedModes are the modes this installation allows at all (--allowed-modes).
	AllowedModes []agentsv1alpha1.Mode `json:"allowedModes"`
}

// PublicModel is a model's name and who may pick it.
type PublicModel struct {
	Name   string `json:"name"`
	Access `json:",inline"`
}

// PublicProfile is a profile's name, description, modes and who may use it.
type PublicProfile struct {
	Name        string                `json:"name"`
	Description string                `json:"description,omitempty"`
	Modes       []agentsv1alpha1.Mode `json:"modes,omitempty"`
	Access      `json:",inline"`
}

// AllowsMode reports whether queries with this profile may run in mode m (empty modes:
// ReadOnly only, as Profile.AllowsMode).
func (p PublicProfile) AllowsMode(m agentsv1alpha1.Mode) bool {
	return Profile{Modes: p.Modes}.AllowsMode(m)
}

// Public is the public view of c with the installation's allowed modes. Fields are
// copied one by one: a field added to Model or Profile stays private until added here.
func (c *Catalog) Public(allowedModes []agentsv1alpha1.Mode) *Public {
	p := &Public{DefaultModel: c.DefaultModel, DefaultProfile: c.defaultProfile(),
		Models: []PublicModel{}, Profiles: []PublicProfile{}, AllowedModes: append([]agentsv1alpha1.Mode{}, allowedModes...)}
	for _, m := range c.Models {
		p.Models = append(p.Models, PublicModel{Name: m.Name, Access: m.accessCopy()})
	}
	for _, pr := range c.Profiles {
		p.Profiles = append(p.Profiles, PublicProfile{Name: pr.Name, Description: pr.Description,
			Modes: append([]agentsv1alpha1.Mode(nil), pr.Modes...), Access: pr.accessCopy()})
	}
	return p
}

func (a Access) accessCopy() Access {
	return Access{AllowedUsers: append([]string(nil), a.AllowedUsers...), AllowedGroups: append([]string(nil), a.AllowedGroups...)}
}

// Marshal is the ConfigMap's PublicKey value.
func (p *Public) Marshal() (string, error) {
	b, err := json.Marshal(p)
	return string(b), err
}

// ParsePublic reads a published catalog.
func ParsePublic(data string) (*Public, error) {
	var p Public
	if err := json.Unmarshal([]byte(data), &p); err != nil {
		return nil, fmt.Errorf("published catalog: %w", err)
	}
	return &p, nil
}

// For is what user, member of groups, may use: the models and profiles that permit
// them, and only the allowed modes that one of those profiles allows. The result's
// access lists are empty.
func (p *Public) For(user string, groups []string) *Public {
	out := &Public{DefaultModel: p.DefaultModel, DefaultProfile: p.DefaultProfile, Models: []PublicModel{}, Profiles: []PublicProfile{}}
	for _, m := range p.Models {
		if m.Permits(user, groups) {
			out.Models = append(out.Models, PublicModel{Name: m.Name})
		}
	}
	modes := map[agentsv1alpha1.Mode]bool{}
	for _, pr := range p.Profiles {
		if !pr.Permits(user, groups) {
			continue
		}
		out.Profiles = append(out.Profiles, PublicProfile{Name: pr.Name, Description: pr.Description, Modes: pr.Modes})
		for _, m := range p.AllowedModes {
			if pr.AllowsMode(m) {
				modes[m] = true
			}
		}
	}
	for _, m := range p.AllowedModes {
		if modes[m] {
			out.AllowedModes = append(out.AllowedModes, m)
		}
	}
	return out
}
