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
			got, err := parseCommand(tc.args, tc.env)
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

func summary(c command) string {
	return fmt.Sprintf("name=%s brokers=%s timeout=%s all=%t n=%d p=%d pretty=%t topic=%q",
		c.name, slices.Clone(c.brokers), c.opts.timeout, c.all, c.n, c.partition, c.pretty, c.topic)
}
