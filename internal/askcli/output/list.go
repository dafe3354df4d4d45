package output

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

func extractList(obj runtime.Object) ([]runtime.Object, error) {
	if !meta.IsListType(obj) {
		return nil, errNotList
	}
	return meta.ExtractList(obj)
}

type notList struct{}

func (notList) Error() string { return "not a list" }

var errNotList = notList{}
