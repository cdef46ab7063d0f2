package console

import (
	"embed"
	"mime"
	"net/http"
	"path"

	"github.com/labstack/echo/v4"
)

// static holds the page: index.html, and under assets/ its style sheet and
// JavaScript modules. Nothing else is loaded, so the page works offline.
//
//go:embed static
var static embed.FS

// assets serves the page at / and its files under /assets/.
func assets(e *echo.Echo) {
	page := func(c echo.Context) error {
		b, err := static.ReadFile("static/index.html")
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-cache")
		return c.HTMLBlob(http.StatusOK, b)
	}
	e.GET("/", page)
	e.GET("/index.html", page)
	e.GET("/assets/*", func(c echo.Context) error {
		name := path.Join("static/assets", path.Clean("/"+c.Param("*")))
		b, err := static.ReadFile(name)
		if err != nil {
			return echo.ErrNotFound
		}
		ctype := mime.TypeByExtension(path.Ext(name))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		c.Response().Header().Set("Cache-Control", "no-cache")
		return c.Blob(http.StatusOK, ctype, b)
	})
}
