package app

import (
	"testing"
	"time"
)

func TestPurgeBefore(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	tests := []struct {
		name      string
		retention time.Duration
		published *time.Time
		want      time.Time
	}{
		{"debezium relays: age alone", time.Hour, nil, now.Add(-time.Hour)},
		{"relay up to date: age", time.Hour, at(0), now.Add(-time.Hour)},
		{"relay behind: its progress less the commit margin", time.Hour, at(-2 * time.Hour), now.Add(-2*time.Hour - commitMargin)},
		{"short retention never passes the margin", time.Second, at(0), now.Add(-commitMargin)},
		{"relay never published anything", time.Hour, &time.Time{}, time.Time{}.Add(-commitMargin)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := purgeBefore(now, tt.retention, tt.published); !got.Equal(tt.want) {
				t.Fatalf("purgeBefore = %v, want %v", got, tt.want)
			}
		})
	}
}
