//go:build outboxrelay_e2e

// This file is compiled only into the binary the end-to-end test builds
// (go build -tags outboxrelay_e2e). With the embedded store only the
// outbox-relay process can write the outbox it relays, so the test needs a
// way in: POST /_test/outbox/{database}/{collection} appends one outbox
// event in a transaction, the way a service does. Production builds do not
// have this route.

package main

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/outbox"
)

// testRoutes adds the test's way into the outbox.
func testRoutes(e *echo.Echo, store *mongotx.Client) {
	e.POST("/_test/outbox/:database/:collection", func(c echo.Context) error {
		var in struct {
			AggregateType string          `json:"aggregateType"`
			AggregateID   string          `json:"aggregateId"`
			Type          string          `json:"type"`
			Payload       json.RawMessage `json:"payload"`
		}
		if err := json.NewDecoder(c.Request().Body).Decode(&in); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, err.Error())
		}
		var payload bson.D // keeps the field order of the JSON
		if err := bson.UnmarshalExtJSON(in.Payload, false, &payload); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, err.Error())
		}
		ev := outbox.New(in.AggregateType, in.AggregateID, in.Type, payload)
		db := store.Database(c.Param("database"))
		err := store.Transact(c.Request().Context(), func(ctx context.Context) error {
			return outbox.Open(db, c.Param("collection")).Append(ctx, ev)
		})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, map[string]string{"id": ev.ID})
	})
}
