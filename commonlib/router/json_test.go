package router_test

import (
	"context"
	"testing"

	"github.com/sagaoutbox/platform/commonlib/router"
)

func TestJSON(t *testing.T) {
	type payload struct {
		ID string `json:"id"`
	}
	var got payload
	h := router.JSON(func(_ context.Context, _ router.Message, p payload) error { got = p; return nil })
	if err := h(context.Background(), router.Message{Value: []byte(`{"id":"c1"}`)}); err != nil || got.ID != "c1" {
		t.Fatalf("valid value: payload %+v, error %v; want id c1 and no error", got, err)
	}
	for _, v := range []string{`not json`, `{"id":1}`, ``} {
		if err := h(context.Background(), router.Message{Value: []byte(v)}); !router.IsPermanent(err) {
			t.Errorf("value %q: error %v, want a permanent error", v, err)
		}
	}
}
