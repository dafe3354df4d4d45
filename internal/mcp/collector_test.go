package mcp_test

import "github.com/prometheus/client_golang/prometheus"

// prometheusCollector is a gathered value, readable with testutil.ToFloat64.
type prometheusCollector = prometheus.Collector

// constCollector exposes a gathered counter value as a collector.
func constCollector(v float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gathered", Help: "a gathered value"}, func() float64 { return v })
}
