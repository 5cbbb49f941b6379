package service

import (
	"testing"
	"time"
)

func TestDeliveryMetrics(t *testing.T) {
	m := NewMetrics()
	m.Delivery("sent", 3*time.Second)
	m.Delivery("read", 40*time.Second)
	m.Delivery("not_confirmed", 0)
	wantLines(t, scrape(t, m),
		`mediaprep_deliveries_total{result="sent"} 1`,
		`mediaprep_deliveries_total{result="read"} 1`,
		`mediaprep_deliveries_total{result="not_confirmed"} 1`,
		`mediaprep_send_to_sent_seconds_count 2`,
		`mediaprep_send_to_sent_seconds_bucket{le="5"} 1`,
	)
	var nilM *Metrics
	nilM.Delivery("sent", time.Second) // no-op
}
