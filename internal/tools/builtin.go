package tools

// Builtin returns kubeask's built-in tools, read-only ones first. It is a plain
// function, not an init()-time registry: callers decide what they expose.
func Builtin() []Tool {
	ro := Annotations{ReadOnly: true, Idempotent: true}
	return []Tool{
		Define("resources_list",
			"List objects of one resource type, as kubectl get prints them (server-side table columns). Supports a namespace or all namespaces, label and field selectors and a limit (at most 500 rows); the result says when more exist.",
			with(ro, "List resources"), listResources),
		Define("resources_get",
			"Get one object as YAML (managedFields omitted; Secret values redacted unless the profile allows them).",
			with(ro, "Get a resource"), getResource),
		Define("resources_describe",
			"Describe one object: its YAML and the events about it, oldest first.",
			with(ro, "Describe a resource"), describeResource),
		Define("events_list",
			"List events of a namespace (or all namespaces), optionally only those about one object or only warnings.",
			with(ro, "List events"), listEvents),
		Define("pods_log",
			"Read a pod container's log: the last tailLines lines (default 200), optionally of the previous (crashed) instance or since some seconds.",
			with(ro, "Pod logs"), podLogs),
		Define("rollout_status",
			"Report the rollout status of a deployment, statefulset or daemonset, as kubectl rollout status would, without waiting.",
			with(ro, "Rollout status"), rolloutStatus),
		Define("rollout_history",
			"List the revisions of a deployment with their images and change causes.",
			with(ro, "Rollout history"), rolloutHistory),
		Define("api_resources",
			"List the resource types the cluster serves, with short names, API versions, scope and verbs.",
			with(ro, "API resources"), apiResources),
		Define("auth_can_i",
			"Check whether the requester may perform a verb on a resource (a SelfSubjectAccessReview as the requester).",
			with(ro, "Can I"), canI),

		Define("resources_apply",
			"Create or update objects from a YAML manifest with server-side apply, as the requester. Changes the cluster.",
			Annotations{Title: "Apply a manifest", Destructive: true, Idempotent: true}, applyResources),
		Define("resources_patch",
			"Patch one object (strategic, merge or JSON patch), as the requester. Changes the cluster.",
			Annotations{Title: "Patch a resource", Destructive: true}, patchResource),
		Define("resources_delete",
			"Delete one object, as the requester. Changes the cluster.",
			Annotations{Title: "Delete a resource", Destructive: true, Idempotent: true}, deleteResource),
		Define("resources_scale",
			"Set the replica count of a scalable object (deployment, statefulset, replicaset, ...), as the requester. Changes the cluster.",
			Annotations{Title: "Scale", Destructive: true, Idempotent: true}, scaleResource),
		Define("rollout_restart",
			"Restart the pods of a deployment, statefulset or daemonset by a rolling update, as the requester. Changes the cluster.",
			Annotations{Title: "Rollout restart", Destructive: false}, rolloutRestart),
		kubectlTool(),
	}
}

func with(a Annotations, title string) Annotations {
	a.Title = title
	return a
}
