// Package validation checks an AgentTrigger's spec with Go, where the CRD's CEL rules
// can only approximate: the cron expression and time zone as the scheduler parses them,
// the prompt as it will be rendered for the trigger's source, alert matchers' regular
// expressions and event name patterns. The admission webhook and the controller both
// call it, so a trigger is refused, or marked not Ready, for the same reasons.
package validation

import (
	"errors"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	agentsv1alpha1 "github.com/kubeask/kubeask/api/v1alpha1"
	"github.com/kubeask/kubeask/internal/trigger/filter"
	"github.com/kubeask/kubeask/internal/trigger/prompt"
	"github.com/kubeask/kubeask/internal/trigger/schedule"
)

// Validate returns everything wrong with spec, at paths such as spec.schedule.cron,
// spec.query.prompt or spec.alerts.matchers[2].value.
func Validate(spec *agentsv1alpha1.AgentTriggerSpec) field.ErrorList {
	specPath := field.NewPath("spec")
	if spec == nil {
		return field.ErrorList{field.Required(specPath, "")}
	}
	var errs field.ErrorList
	source := ""
	var set []string
	if spec.Schedule != nil {
		source, set = prompt.SourceSchedule, append(set, "schedule")
		errs = append(errs, validateSchedule(spec.Schedule, specPath.Child("schedule"))...)
	}
	if spec.Events != nil {
		source, set = prompt.SourceEvent, append(set, "events")
		errs = append(errs, validateEvents(spec.Events, specPath.Child("events"))...)
	}
	if spec.Alerts != nil {
		source, set = prompt.SourceAlert, append(set, "alerts")
		errs = append(errs, validateAlerts(spec.Alerts, specPath.Child("alerts"))...)
	}
	switch {
	case len(set) == 0:
		errs = append(errs, field.Required(specPath, "set exactly one of schedule, events and alerts"))
	case len(set) > 1:
		for _, name := range set[1:] {
			errs = append(errs, field.Forbidden(specPath.Child(name), "set exactly one of schedule, events and alerts; "+set[0]+" is set too"))
		}
	default:
		// The prompt can only be checked against the data of one known source.
		if err := prompt.Validate(spec.Query.Prompt, source); err != nil {
			// The prompt may be 8 KiB long: the message says where the problem is
			// instead of repeating it.
			errs = append(errs, field.Invalid(specPath.Child("query", "prompt"), field.OmitValueType{}, err.Error()))
		}
	}
	return errs
}

func validateSchedule(s *agentsv1alpha1.ScheduleSource, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if _, err := schedule.LoadLocation(s.TimeZone); err != nil {
		errs = append(errs, field.Invalid(path.Child("timeZone"), s.TimeZone, detail(err)))
	}
	// With the zone checked apart, an error here is always about the expression.
	if _, err := schedule.Parse(s.Cron, ""); err != nil {
		errs = append(errs, field.Invalid(path.Child("cron"), s.Cron, detail(err)))
	}
	if s.StartingDeadlineSeconds != nil && *s.StartingDeadlineSeconds < 1 {
		errs = append(errs, field.Invalid(path.Child("startingDeadlineSeconds"), *s.StartingDeadlineSeconds, "must be at least 1"))
	}
	return errs
}

// detail is the part of a schedule error that does not repeat the field and value.
func detail(err error) string {
	var se *schedule.Error
	if errors.As(err, &se) {
		return se.Detail
	}
	return err.Error()
}

func validateEvents(e *agentsv1alpha1.EventSource, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if err := filter.CheckEventType(e.Type); err != nil {
		errs = append(errs, field.NotSupported(path.Child("type"), e.Type, []string{filter.EventTypeWarning}))
	}
	patterns := path.Child("involvedObject", "namePatterns")
	for i, p := range e.InvolvedObject.NamePatterns {
		if err := filter.CheckNamePattern(p); err != nil {
			var fe *filter.EventFieldError
			msg := err.Error()
			if errors.As(err, &fe) {
				msg = fe.Detail
			}
			errs = append(errs, field.Invalid(patterns.Index(i), p, msg))
		}
	}
	if e.NamespaceSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(e.NamespaceSelector,
			metav1validation.LabelSelectorValidationOptions{}, path.Child("namespaceSelector"))...)
	}
	return errs
}

func validateAlerts(a *agentsv1alpha1.AlertSource, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	matchers := path.Child("matchers")
	// Each matcher on its own, so that every bad one is reported, not only the first.
	for i, m := range a.Matchers {
		_, err := filter.CompileMatchers([]agentsv1alpha1.AlertMatcher{m})
		var me *filter.MatcherError
		switch {
		case err == nil:
		case errors.As(err, &me):
			errs = append(errs, field.Invalid(matchers.Index(i).Child(me.Field), me.Value, me.Detail))
		default:
			errs = append(errs, field.Invalid(matchers.Index(i), m, err.Error()))
		}
	}
	return errs
}
