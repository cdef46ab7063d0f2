package router

import (
	"context"
	"encoding/json"
	"fmt"
)

// JSON adapts a handler of a decoded payload: the record's value is decoded
// as JSON into a T, and a value that does not decode is a Permanent error
// (the record can never succeed and goes to the dead-letter topic).
func JSON[T any](h func(ctx context.Context, m Message, payload T) error) Handler {
	return func(ctx context.Context, m Message) error {
		var payload T
		if err := json.Unmarshal(m.Value, &payload); err != nil {
			return Permanent(fmt.Errorf("invalid %T payload: %w", payload, err))
		}
		return h(ctx, m, payload)
	}
}
