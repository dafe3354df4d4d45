// Package v1alpha1 contains the agents.kubeask.dev/v1alpha1 API: AgentSession and AgentQuery.
//
// +kubebuilder:object:generate=true
// +groupName=agents.kubeask.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the group and version of this API.
var GroupVersion = schema.GroupVersion{Group: "agents.kubeask.dev", Version: "v1alpha1"}

// AddToScheme adds the types of this API to a runtime.Scheme. It is a plain function,
// not an init()-time registry: callers build their scheme explicitly.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&AgentSession{}, &AgentSessionList{},
		&AgentQuery{}, &AgentQueryList{},
		&AgentTrigger{}, &AgentTriggerList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
