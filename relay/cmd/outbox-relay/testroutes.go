//go:build !outboxrelay_e2e

package main

import (
	"github.com/labstack/echo/v4"

	"github.com/sagaoutbox/platform/commonlib/mongotx"
)

// testRoutes adds nothing: only the binary the end-to-end test builds (build
// tag outboxrelay_e2e, testroutes_e2e.go) has routes that seed the store.
func testRoutes(*echo.Echo, *mongotx.Client) {}
