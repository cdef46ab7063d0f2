package main

import (
	"log/slog"
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    config
		wantErr []string
	}{
		{
			name: "defaults",
			want: config{Addr: "127.0.0.1:9093", DataDir: "./.data", Partitions: 3, LogLevel: slog.LevelInfo},
		},
		{
			name: "everything set",
			env: map[string]string{"DEVKAFKA_ADDR": "localhost:19093", "DATA_DIR": "/var/tmp/x", "DEVKAFKA_PARTITIONS": "12",
				"DEVKAFKA_SYNC_WRITES": "true", "LOG_LEVEL": "DEBUG"},
			want: config{Addr: "localhost:19093", DataDir: "/var/tmp/x", Partitions: 12, SyncWrites: true, LogLevel: slog.LevelDebug},
		},
		{
			name: "wildcard with advertised address",
			env:  map[string]string{"DEVKAFKA_ADDR": "0.0.0.0:9093", "DEVKAFKA_ADVERTISED_ADDR": "192.168.1.20:9093"},
			want: config{Addr: "0.0.0.0:9093", AdvertisedAddr: "192.168.1.20:9093", DataDir: "./.data", Partitions: 3, LogLevel: slog.LevelInfo},
		},
		{name: "addr without port", env: map[string]string{"DEVKAFKA_ADDR": "nonsense"}, wantErr: []string{`DEVKAFKA_ADDR="nonsense"`, "missing port"}},
		{name: "addr port not numeric", env: map[string]string{"DEVKAFKA_ADDR": "h:abc"}, wantErr: []string{"DEVKAFKA_ADDR", `port "abc"`}},
		{name: "empty host", env: map[string]string{"DEVKAFKA_ADDR": ":9093"}, wantErr: []string{"DEVKAFKA_ADDR", "all interfaces"}},
		{name: "ipv6 wildcard", env: map[string]string{"DEVKAFKA_ADDR": "[::]:9093"}, wantErr: []string{"DEVKAFKA_ADVERTISED_ADDR"}},
		{name: "advertised port 0", env: map[string]string{"DEVKAFKA_ADVERTISED_ADDR": "h:0"}, wantErr: []string{"DEVKAFKA_ADVERTISED_ADDR", "port 0"}},
		{name: "advertised wildcard", env: map[string]string{"DEVKAFKA_ADVERTISED_ADDR": "0.0.0.0:9093"}, wantErr: []string{"DEVKAFKA_ADVERTISED_ADDR", "wildcard"}},
		{name: "partitions zero", env: map[string]string{"DEVKAFKA_PARTITIONS": "0"}, wantErr: []string{"DEVKAFKA_PARTITIONS=0"}},
		{name: "partitions too many", env: map[string]string{"DEVKAFKA_PARTITIONS": "5000"}, wantErr: []string{"DEVKAFKA_PARTITIONS=5000"}},
		{name: "sync writes", env: map[string]string{"DEVKAFKA_SYNC_WRITES": "yes"}, wantErr: []string{`DEVKAFKA_SYNC_WRITES="yes"`}},
		{name: "log level", env: map[string]string{"LOG_LEVEL": "trace"}, wantErr: []string{`LOG_LEVEL="trace"`}},
		{
			name:    "every problem reported",
			env:     map[string]string{"DEVKAFKA_ADDR": "x", "DEVKAFKA_PARTITIONS": "-1", "LOG_LEVEL": "?"},
			wantErr: []string{"DEVKAFKA_ADDR", "DEVKAFKA_PARTITIONS", "LOG_LEVEL"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := loadConfig(func(k string) string { return tc.env[k] })
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("got config %+v, want an error containing %q", got, tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("got error %q, want it to contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
