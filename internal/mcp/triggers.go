package mcp

import (
	"fmt"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"k8s.io/apimachinery/pkg/api/meta"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
)

// ToolTriggersList lists AgentTriggers, as the caller.
const ToolTriggersList = "triggers_list"

// TriggersInput are the arguments of triggers_list.
type TriggersInput = ListInput

// TriggersOutput is the structured result of triggers_list.
type TriggersOutput struct {
	Triggers []TriggerInfo `json:"triggers"`
}

// TriggerInfo summarizes one AgentTrigger.
type TriggerInfo struct {
	Namespace    string `json:"namespace"`
	Name         string `json:"name"`
	Source       string `json:"source" jsonschema:"what fires it: 'cron <expression> (<time zone>)', 'events <reasons> on <kinds> (<name patterns>)' or 'alerts <matchers>'"`
	Requester    string `json:"requester,omitempty" jsonschema:"the user every query of the trigger is created and runs as"`
	Suspended    bool   `json:"suspended"`
	Ready        string `json:"ready" jsonschema:"status of the Ready condition: True, False, or Unknown while no operator has looked at the trigger"`
	ReadyMessage string `json:"readyMessage,omitempty" jsonschema:"why the trigger is or is not ready, from the Ready condition"`
	Fired        int64  `json:"fired" jsonschema:"how many queries the trigger created"`
	LastFireTime string `json:"lastFireTime,omitempty" jsonschema:"when it last created a query, RFC 3339"`
	LastQuery    string `json:"lastQuery,omitempty" jsonschema:"the AgentQuery it created last, in the trigger's namespace"`
}

func (s *Server) addTriggersList(srv *mcp.Server, callerOf callerFunc) {
	f := false
	srv.AddTool(&mcp.Tool{
		Name:  ToolTriggersList,
		Title: "List triggers",
		Description: "List kubeask triggers you may read: what makes the agent investigate on its own (a cron schedule, Warning events or Alertmanager alerts), " +
			"whom its queries run as, whether it is suspended or ready, how often it fired and its last query.",
		InputSchema:  mustSchema[TriggersInput](),
		OutputSchema: mustSchema[TriggersOutput](),
		Annotations:  &mcp.ToolAnnotations{Title: "List triggers", ReadOnlyHint: true, DestructiveHint: &f, IdempotentHint: true, OpenWorldHint: &f},
	}, s.triggersHandler(callerOf))
}

func (s *Server) triggersHandler(callerOf callerFunc) mcp.ToolHandler {
	return listHandler(s, callerOf, ToolTriggersList, "agenttriggers", "no triggers",
		func() *agentsv1alpha1.AgentTriggerList { return &agentsv1alpha1.AgentTriggerList{} },
		func(list *agentsv1alpha1.AgentTriggerList) (any, []string) {
			out := TriggersOutput{Triggers: []TriggerInfo{}}
			var lines []string
			for i := range list.Items {
				info := triggerInfo(&list.Items[i])
				out.Triggers = append(out.Triggers, info)
				lines = append(lines, fmt.Sprintf("%s/%s source=%q requester=%s suspended=%t ready=%s fired=%d last=%s lastQuery=%s",
					info.Namespace, info.Name, info.Source, cmp(info.Requester, "-"), info.Suspended, info.Ready, info.Fired,
					cmp(info.LastFireTime, "-"), cmp(info.LastQuery, "-")))
			}
			return out, lines
		})
}

func triggerInfo(t *agentsv1alpha1.AgentTrigger) TriggerInfo {
	info := TriggerInfo{Namespace: t.Namespace, Name: t.Name, Source: t.SourceSummary(), Suspended: t.Spec.Suspend,
		Ready: "Unknown", Fired: t.Status.Fired, LastQuery: t.Status.LastQuery}
	if t.Spec.Requester != nil {
		info.Requester = t.Spec.Requester.Username
	}
	if cond := meta.FindStatusCondition(t.Status.Conditions, "Ready"); cond != nil {
		info.Ready, info.ReadyMessage = string(cond.Status), cond.Message
	}
	if lt := t.Status.LastFireTime; lt != nil {
		info.LastFireTime = lt.UTC().Format(time.RFC3339)
	}
	return info
}
