package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/httpapi"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/mongotx/journal"
	"github.com/sagaoutbox/platform/commonlib/relay"
	"github.com/sagaoutbox/platform/commonlib/router"
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
		{"relay behind: its progress less the commit margin", time.Hour, at(-2 * time.Hour), now.Add(-2*time.Hour - relay.CommitMargin)},
		{"short retention never passes the margin", time.Second, at(0), now.Add(-relay.CommitMargin)},
		{"relay never published anything", time.Hour, &time.Time{}, time.Time{}.Add(-relay.CommitMargin)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := purgeBefore(now, tt.retention, tt.published); !got.Equal(tt.want) {
				t.Fatalf("purgeBefore = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStoreErrorsAnswer503WithRetryAfter(t *testing.T) {
	none := func(error) (int, httpapi.Problem, bool) { return 0, httpapi.Problem{}, false }
	tests := []struct {
		name     string
		err      error
		wantCode string
	}{
		{"saturated", fmt.Errorf("register: %w", mongotx.ErrSaturated), "SATURATED"},
		{"cannot write", fmt.Errorf("commit: %w", &journal.UnavailableError{Err: syscall.ENOSPC}), "STORE_UNAVAILABLE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, p, ok := withStoreErrors(none)(tt.err)
			if !ok || status != http.StatusServiceUnavailable || p.Code != tt.wantCode || p.RetryAfter <= 0 {
				t.Fatalf("got %d %+v %v, want 503 %s with a Retry-After", status, p, ok, tt.wantCode)
			}
		})
	}
	for _, m := range []httpapi.Mapper{none, nil} {
		if _, _, ok := withStoreErrors(m)(errors.New("other")); ok {
			t.Fatal("an unrelated error was mapped")
		}
	}
}

// TestStaticMemberID: a consumer's instance id follows its store's
// directory, however it is spelled, and is one Kafka accepts.
func TestStaticMemberID(t *testing.T) {
	dir := t.TempDir()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	relative, err := filepath.Rel(wd, dir)
	if err != nil {
		t.Fatal(err)
	}
	id := staticMemberID("payment-service", dir)
	if !regexp.MustCompile(`^payment-service-[0-9a-f]{16}$`).MatchString(id) {
		t.Fatalf("staticMemberID = %q, want payment-service- and 16 hex digits", id)
	}
	tests := []struct {
		name     string
		other    string
		wantSame bool
	}{
		{"same directory", staticMemberID("payment-service", dir), true},
		{"same directory, spelled with a trailing ./", staticMemberID("payment-service", dir+"/./"), true},
		{"same directory, relative", staticMemberID("payment-service", relative), true},
		{"another directory", staticMemberID("payment-service", t.TempDir()), false},
		{"another service", staticMemberID("customer-service", dir), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if same := tt.other == id; same != tt.wantSame {
				t.Errorf("%q vs %q: same = %v, want %v", tt.other, id, same, tt.wantSame)
			}
			if strings.ContainsAny(tt.other, "/ ") {
				t.Errorf("%q holds characters Kafka refuses in group.instance.id", tt.other)
			}
		})
	}
}

// TestSelectHandlers: INTERESTING_EVENTS picks among the service's handlers,
// and naming a type it has no handler for is an error naming both.
func TestSelectHandlers(t *testing.T) {
	nop := func(context.Context, router.Message) error { return nil }
	all := map[string]router.Handler{"A": nop, "B": nop}
	tests := []struct {
		name        string
		interesting []string
		want        []string
		wantErr     string
	}{
		{"all", []string{"A", "B"}, []string{"A", "B"}, ""},
		{"some", []string{"B"}, []string{"B"}, ""},
		{"one it cannot handle", []string{"A", "C"}, nil, "INTERESTING_EVENTS names C, which this service cannot handle (it handles A, B)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := selectHandlers(all, tt.interesting)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, tt.want) || gotErr != tt.wantErr {
				t.Errorf("selectHandlers = %q, %q; want %q, %q", keys, gotErr, tt.want, tt.wantErr)
			}
		})
	}
}
