package agent

// ToolTimeout bounds one tool call. A call in flight finishes when the operator shuts
// down, so a pod's termination grace period must cover it on top of the manager's
// graceful shutdown (the chart's test checks it).
const ToolTimeout = toolTimeout
