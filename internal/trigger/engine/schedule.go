package engine

import (
	"time"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/trigger/prompt"
)

// ScheduleData is the prompt data of a scheduled run.
func ScheduleData(t *agentsv1alpha1.AgentTrigger, run time.Time) prompt.Data {
	return prompt.Data{
		Trigger:   t.Name,
		Namespace: t.Namespace,
		Time:      run,
		Source:    prompt.SourceSchedule,
		Schedule:  &prompt.Schedule{Cron: t.Spec.Schedule.Cron, TimeZone: t.Spec.Schedule.TimeZone, ScheduledTime: run},
	}
}
