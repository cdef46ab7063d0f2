package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     string
		want    command
		wantErr string
	}{
		{
			name: "defaults",
			args: []string{"topics"},
			want: command{name: "topics", brokers: []string{"localhost:9093"}, n: 10, partition: -1},
		},
		{
			name: "KAFKA_BROKERS is the default",
			args: []string{"groups"},
			env:  "k1:9092, k2:9092",
			want: command{name: "groups", brokers: []string{"k1:9092", "k2:9092"}, n: 10, partition: -1},
		},
		{
			name: "-b wins over KAFKA_BROKERS",
			args: []string{"-b", "a:1", "topics", "-all"},
			env:  "k1:9092",
			want: command{name: "topics", brokers: []string{"a:1"}, all: true, n: 10, partition: -1},
		},
		{
			name: "global flags after the command",
			args: []string{"tail", "-b", "a:1", "-timeout", "2s", "t"},
			want: command{name: "tail", brokers: []string{"a:1"}, n: 10, partition: -1, topic: "t", opts: options{timeout: 2 * time.Second}},
		},
		{
			name: "tail flags before and after the topic",
			args: []string{"tail", "-p", "2", "orders", "-n", "3", "-pretty"},
			want: command{name: "tail", brokers: []string{"localhost:9093"}, n: 3, partition: 2, pretty: true, topic: "orders"},
		},
		{name: "help", args: []string{"-h"}, want: command{name: "help"}},
		{name: "two topics", args: []string{"tail", "a", "b"}, wantErr: "want exactly one TOPIC, got 2"},
		{name: "negative partition", args: []string{"tail", "-p", "-2", "t"}, wantErr: "-p must be a partition number"},
		{name: "topics takes no arguments", args: []string{"topics", "x"}, wantErr: `topics takes no arguments, got ["x"]`},
		{name: "bad KAFKA_BROKERS named", args: []string{"topics"}, env: "nope", wantErr: `KAFKA_BROKERS="nope"`},
		{name: "empty -b", args: []string{"-b", " , ", "topics"}, wantErr: "no broker addresses"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseCommand(tc.args, brokersEnv(tc.env))
			if tc.wantErr != "" {
				var uerr *usageError
				if !errors.As(err, &uerr) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want a usage error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if tc.want.name != "help" && tc.want.opts.timeout == 0 {
				tc.want.opts.timeout = 5 * time.Second
			}
			if g, w := summary(got), summary(tc.want); g != w {
				t.Errorf("got  %s\nwant %s", g, w)
			}
		})
	}
}

// brokersEnv is a getenv that knows only KAFKA_BROKERS, set to brokers.
func brokersEnv(brokers string) func(string) string {
	return func(name string) string {
		if name == "KAFKA_BROKERS" {
			return brokers
		}
		return ""
	}
}

func summary(c command) string {
	return fmt.Sprintf("name=%s brokers=%s timeout=%s all=%t n=%d p=%d pretty=%t topic=%q",
		c.name, slices.Clone(c.brokers), c.opts.timeout, c.all, c.n, c.partition, c.pretty, c.topic)
}

func TestParseDLTCommand(t *testing.T) {
	t.Parallel()
	env := func(retention string) func(string) string {
		return func(name string) string {
			if name == "CONSUMED_EVENTS_RETENTION" {
				return retention
			}
			return ""
		}
	}
	tests := []struct {
		name      string
		args      []string
		retention string // $CONSUMED_EVENTS_RETENTION
		want      string
	}{
		{"list defaults", []string{"dlt"}, "", `name=dlt topic="DLT" n=0 filter={OriginalTopic: EventType: ErrorContains: Key: OlderThan:0s NewerThan:0s Positions:[] Newest:0} dry-run=false force=false all=false retention=0s`},
		{"list filters", []string{"dlt", "-topic", "D", "-original-topic", "t", "-event-type", "E", "-error", "boom", "-key", "k", "-older-than", "1h", "-newer-than", "2h", "-n", "3"}, "",
			`name=dlt topic="D" n=3 filter={OriginalTopic:t EventType:E ErrorContains:boom Key:k OlderThan:1h0m0s NewerThan:2h0m0s Positions:[] Newest:0} dry-run=false force=false all=false retention=0s`},
		{"replay by offsets, retention's default", []string{"dlt", "replay", "-offset", "1:7,3"}, "", `name=dlt replay topic="DLT" n=0 filter={OriginalTopic: EventType: ErrorContains: Key: OlderThan:0s NewerThan:0s Positions:[1:7 0:3] Newest:0} dry-run=false force=false all=false retention=168h0m0s`},
		{"replay flags around replay, retention from the environment", []string{"dlt", "-dry-run", "replay", "-key", "k", "-force"}, "2h", `name=dlt replay topic="DLT" n=0 filter={OriginalTopic: EventType: ErrorContains: Key:k OlderThan:0s NewerThan:0s Positions:[] Newest:0} dry-run=true force=true all=false retention=2h0m0s`},
		{"-retention over the environment", []string{"dlt", "replay", "-all", "-retention", "30m"}, "2h", `name=dlt replay topic="DLT" n=0 filter={OriginalTopic: EventType: ErrorContains: Key: OlderThan:0s NewerThan:0s Positions:[] Newest:0} dry-run=false force=false all=true retention=30m0s`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := parseCommand(tc.args, env(tc.retention))
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			got := fmt.Sprintf("name=%s topic=%q n=%d filter=%+v dry-run=%t force=%t all=%t retention=%s",
				c.name, c.topic, c.n, c.dlt.filter, c.dlt.dryRun, c.dlt.force, c.all, c.dlt.retention)
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
