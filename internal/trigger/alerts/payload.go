package alerts

import "time"

// The webhook payload, as documented for Alertmanager's webhook_config:
// https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
//
// Alertmanager (and compatible senders such as Grafana) may add fields; unknown
// fields are ignored so that a newer sender still works.

// Version is the only payload version the receiver accepts. Alertmanager bumps it
// when the format changes incompatibly, so another value is refused rather than
// guessed at.
const Version = "4"

// Statuses of a group and of an alert.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Message is the body Alertmanager posts for one notification of one alert group.
type Message struct {
	// Version is "4".
	Version string `json:"version"`
	// GroupKey identifies the alert group (route and group labels); the same group
	// keeps its key across notifications, which is what de-duplicates queries.
	GroupKey string `json:"groupKey"`
	// TruncatedAlerts is how many alerts Alertmanager left out because of the
	// webhook's max_alerts.
	TruncatedAlerts uint64 `json:"truncatedAlerts"`
	// Status is "firing" when at least one alert of the group fires, else "resolved".
	Status string `json:"status"`
	// Receiver is the name of the Alertmanager receiver that sent the notification.
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	// ExternalURL links back to the Alertmanager.
	ExternalURL string  `json:"externalURL"`
	Alerts      []Alert `json:"alerts"`
}

// Alert is one alert of a Message.
type Alert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	// EndsAt is the zero time (0001-01-01T00:00:00Z) while the alert fires with no
	// known end.
	EndsAt time.Time `json:"endsAt"`
	// GeneratorURL identifies what caused the alert (a Prometheus graph link).
	GeneratorURL string `json:"generatorURL"`
	// Fingerprint identifies the alert within Alertmanager.
	Fingerprint string `json:"fingerprint"`
}
