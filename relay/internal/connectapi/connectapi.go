// Package connectapi serves the part of Kafka Connect's REST API that
// scripts/register-connector.sh and Connect clients use, over a worker,
// with Connect's JSON shapes and its error body {"error_code", "message"}:
//
//	GET    /                                 version
//	GET    /health                           worker health (Connect 3.9's shape)
//	GET    /connectors[?expand=status|info]  names (or expanded)
//	GET    /connectors/{name}                {name, config, tasks, type}
//	GET    /connectors/{name}/config         the configuration
//	PUT    /connectors/{name}/config         create (201) or update (200)
//	GET    /connectors/{name}/status         connector and task states
//	POST   /connectors/{name}/restart        restart relays (204, or 202 with
//	                                         includeTasks / onlyFailed)
//	DELETE /connectors/{name}                204
//
// With Options.Credentials every path needs HTTP Basic authentication, as
// with Connect's BasicAuthSecurityRestExtension; without, any caller that
// reaches the listener may reconfigure or delete connectors, so main binds
// to loopback unless told otherwise. Configurations are shown with their
// credentials (if any were stored) replaced by worker.Hidden.
//
// It does not implement connector plugins, validation endpoints, pause,
// resume, stop, offsets or per-task endpoints; those answer 404 as unknown
// paths do.
package connectapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/sagaoutbox/platform/commonlib/httpapi"
	"github.com/sagaoutbox/platform/relay/internal/worker"
)

// Connectors is what the API drives: a worker.Worker.
type Connectors interface {
	Put(ctx context.Context, name string, config map[string]string) (worker.Connector, bool, error)
	Get(ctx context.Context, name string) (worker.Connector, error)
	List(ctx context.Context) ([]worker.Connector, error)
	Delete(ctx context.Context, name string) error
	Restart(ctx context.Context, name string, onlyFailed bool) ([]int, error)
	Status(ctx context.Context, name string) (worker.Status, error)
}

// ServerInfo is GET /'s body.
type ServerInfo struct {
	Version        string `json:"version"`
	Commit         string `json:"commit"`
	KafkaClusterID string `json:"kafka_cluster_id"`
}

// Options configures the API.
type Options struct {
	// Info is what GET / answers: outbox-relay's build, not a Kafka version.
	Info ServerInfo
	// Health reports whether the worker can serve (its store answers).
	Health func(ctx context.Context) error
	// Log receives failed requests (ERROR) and an access log (DEBUG).
	Log *slog.Logger
	// Credentials, when set, are the users let in by HTTP Basic
	// authentication; every other request is answered 401. Nil: no
	// authentication.
	Credentials *Credentials
}

// connectorType is the only type outbox-relay runs.
const connectorType = "source"

// New returns the API's echo server.
func New(c Connectors, opts Options) *echo.Echo {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(opts.Log)
	e.Use(httpapi.Recover, httpapi.AccessLog(opts.Log))
	if opts.Credentials != nil {
		// Runs for unknown paths too, and before the body is read: an
		// unauthenticated caller learns nothing but 401.
		e.Use(basicAuth(opts.Credentials))
	}
	e.Use(middleware.BodyLimit("1MB"))
	h := &handlers{c: c, opts: opts}
	e.GET("/", h.root)
	e.GET("/health", h.health)
	e.GET("/connectors", h.list)
	e.GET("/connectors/", h.list)
	e.GET("/connectors/:name", h.info)
	e.DELETE("/connectors/:name", h.delete)
	e.GET("/connectors/:name/config", h.config)
	e.PUT("/connectors/:name/config", h.putConfig)
	e.GET("/connectors/:name/status", h.status)
	e.POST("/connectors/:name/restart", h.restart)
	return e
}

type handlers struct {
	c    Connectors
	opts Options
}

// --- bodies ---------------------------------------------------------------

// taskID is ConnectorInfo's task entry.
type taskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

// connectorInfo is Connect's ConnectorInfo.
type connectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []taskID          `json:"tasks"`
	Type   string            `json:"type"`
}

// state is Connect's AbstractState: trace only when FAILED.
type state struct {
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

type taskState struct {
	ID int `json:"id"`
	state
}

// connectorStatus is Connect's ConnectorStateInfo.
type connectorStatus struct {
	Name      string      `json:"name"`
	Connector state       `json:"connector"`
	Tasks     []taskState `json:"tasks"`
	Type      string      `json:"type"`
}

// toInfo shows a registration, its credentials (stored before they were
// refused) hidden.
func toInfo(c worker.Connector, tasks int) connectorInfo {
	info := connectorInfo{Name: c.Name, Config: worker.Redact(c.Config), Tasks: []taskID{}, Type: connectorType}
	for i := range tasks {
		info.Tasks = append(info.Tasks, taskID{Connector: c.Name, Task: i})
	}
	return info
}

func toStatus(s worker.Status) connectorStatus {
	out := connectorStatus{
		Name:      s.Name,
		Connector: state{State: s.Connector.State, WorkerID: s.Connector.WorkerID, Trace: s.Connector.Trace},
		Tasks:     []taskState{},
		Type:      connectorType,
	}
	for _, t := range s.Tasks {
		out.Tasks = append(out.Tasks, taskState{ID: t.ID, state: state{State: t.State.State, WorkerID: t.WorkerID, Trace: t.Trace}})
	}
	return out
}

// --- handlers -------------------------------------------------------------

func (h *handlers) root(c echo.Context) error {
	return c.JSON(http.StatusOK, h.opts.Info)
}

// health answers like Connect 3.9's GET /health.
func (h *handlers) health(c echo.Context) error {
	if h.opts.Health != nil {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 5*time.Second)
		defer cancel()
		if err := h.opts.Health(ctx); err != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unhealthy", "message": "the store does not answer: " + err.Error()})
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."})
}

func (h *handlers) list(c echo.Context) error {
	ctx := c.Request().Context()
	all, err := h.c.List(ctx)
	if err != nil {
		return err
	}
	expand := c.QueryParams()["expand"]
	if len(expand) == 0 {
		names := make([]string, 0, len(all))
		for _, conn := range all {
			names = append(names, conn.Name)
		}
		return c.JSON(http.StatusOK, names)
	}
	out := make(map[string]map[string]any, len(all))
	for _, conn := range all {
		st, err := h.c.Status(ctx, conn.Name)
		if errors.Is(err, worker.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		m := map[string]any{}
		for _, x := range expand {
			switch x {
			case "status":
				m["status"] = toStatus(st)
			case "info":
				m["info"] = toInfo(conn, len(st.Tasks))
			}
		}
		out[conn.Name] = m
	}
	return c.JSON(http.StatusOK, out)
}

func (h *handlers) info(c echo.Context) error {
	name, err := connectorName(c)
	if err != nil {
		return err
	}
	conn, err := h.c.Get(c.Request().Context(), name)
	if err != nil {
		return err
	}
	st, err := h.c.Status(c.Request().Context(), name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toInfo(conn, len(st.Tasks)))
}

func (h *handlers) config(c echo.Context) error {
	name, err := connectorName(c)
	if err != nil {
		return err
	}
	conn, err := h.c.Get(c.Request().Context(), name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, worker.Redact(conn.Config))
}

func (h *handlers) putConfig(c echo.Context) error {
	name, err := connectorName(c)
	if err != nil {
		return err
	}
	config, err := decodeConfig(c.Request().Body)
	if err != nil {
		return err
	}
	// Connect's checkAndPutConnectorConfigName.
	if inner, ok := config["name"]; ok && inner != name {
		return badRequest("Connector name configuration (%s) doesn't match connector name in the URL (%s)", inner, name)
	}
	ctx := c.Request().Context()
	conn, created, err := h.c.Put(ctx, name, config)
	if err != nil {
		return err
	}
	st, err := h.c.Status(ctx, name)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		c.Response().Header().Set(echo.HeaderLocation, "/connectors/"+url.PathEscape(name))
		status = http.StatusCreated
	}
	return c.JSON(status, toInfo(conn, len(st.Tasks)))
}

func (h *handlers) status(c echo.Context) error {
	name, err := connectorName(c)
	if err != nil {
		return err
	}
	st, err := h.c.Status(c.Request().Context(), name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toStatus(st))
}

// restart follows KIP-745: without query parameters it answers 204; with
// includeTasks or onlyFailed it answers 202 with the status, the restarted
// tasks marked RESTARTING. The connector itself has nothing to restart, so
// a plain restart restarts every task (Connect would restart only the
// Connector instance), includeTasks=true restarts every task or with
// onlyFailed=true the failed ones, and includeTasks=false&onlyFailed=true
// restarts nothing.
func (h *handlers) restart(c echo.Context) error {
	name, err := connectorName(c)
	if err != nil {
		return err
	}
	includeTasks, err := boolParam(c, "includeTasks")
	if err != nil {
		return err
	}
	onlyFailed, err := boolParam(c, "onlyFailed")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	plain := !includeTasks && !onlyFailed
	var restarted []int
	if plain || includeTasks {
		if restarted, err = h.c.Restart(ctx, name, onlyFailed); err != nil {
			return err
		}
	} else if _, err := h.c.Get(ctx, name); err != nil {
		return err
	}
	if plain {
		return c.NoContent(http.StatusNoContent)
	}
	st, err := h.c.Status(ctx, name)
	if err != nil {
		return err
	}
	body := toStatus(st)
	for i := range body.Tasks {
		for _, id := range restarted {
			if body.Tasks[i].ID == id && body.Tasks[i].State != worker.StateRunning {
				body.Tasks[i].state = state{State: worker.StateRestarting, WorkerID: body.Tasks[i].WorkerID}
			}
		}
	}
	return c.JSON(http.StatusAccepted, body)
}

func (h *handlers) delete(c echo.Context) error {
	name, err := connectorName(c)
	if err != nil {
		return err
	}
	if err := h.c.Delete(c.Request().Context(), name); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// --- request helpers ------------------------------------------------------

// connectorName returns the path's connector name, unescaped.
func connectorName(c echo.Context) (string, error) {
	name := c.Param("name")
	if c.Request().URL.RawPath != "" {
		// Echo matched on the escaped path, so its parameters are escaped.
		unescaped, err := url.PathUnescape(name)
		if err != nil {
			return "", badRequest("invalid connector name %q: %v", name, err)
		}
		name = unescaped
	}
	if strings.TrimSpace(name) == "" || strings.ContainsFunc(name, unicode.IsControl) {
		return "", badRequest("Connector name %q is invalid: it must be non-empty and contain no control characters", name)
	}
	return name, nil
}

// decodeConfig reads a PUT body: a JSON object of connector settings, its
// values read by worker.DecodeConfig (strings, or numbers and booleans,
// which Connect also reads as text), as CONNECTOR_FILE's are.
func decodeConfig(body io.Reader) (map[string]string, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(body)
	if err := dec.Decode(&raw); err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return nil, he // body too large
		}
		return nil, badRequest("the request body must be a JSON object of connector settings: %v", err)
	}
	if raw == nil {
		return nil, badRequest("the request body must be a JSON object of connector settings, not null")
	}
	config, err := worker.DecodeConfig(raw)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	return config, nil
}

func boolParam(c echo.Context, name string) (bool, error) {
	switch v := c.QueryParam(name); strings.ToLower(v) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, badRequest("query parameter %s=%q is not a boolean", name, v)
	}
}

// --- errors ---------------------------------------------------------------

// connectError is an error with the status and message Connect would send.
type connectError struct {
	status  int
	message string
}

func (e *connectError) Error() string { return e.message }

func badRequest(format string, args ...any) error {
	return &connectError{status: http.StatusBadRequest, message: fmt.Sprintf(format, args...)}
}

// errorBody is Connect's ErrorMessage.
type errorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

// toError maps every error to Connect's status and message, in one place.
func toError(err error) errorBody {
	var ce *connectError
	var ie *worker.InvalidConfigError
	var nf *worker.NotFoundError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ce):
		return errorBody{ce.status, ce.message}
	case errors.As(err, &ie):
		// Connect's AbstractHerder.maybeAddConfigErrors, without its
		// pointer to the validate endpoint, which outbox-relay lacks.
		return errorBody{http.StatusBadRequest, fmt.Sprintf("Connector configuration is invalid and contains the following %d error(s):\n%s",
			len(ie.Problems), strings.Join(ie.Problems, "\n"))}
	case errors.As(err, &nf):
		return errorBody{http.StatusNotFound, fmt.Sprintf("Connector %s not found", nf.Name)}
	case errors.As(err, &he):
		// Jersey's text for its own errors: "HTTP 404 Not Found".
		return errorBody{he.Code, fmt.Sprintf("HTTP %d %s", he.Code, http.StatusText(he.Code))}
	default:
		return errorBody{http.StatusInternalServerError, err.Error()}
	}
}

func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		body := toError(err)
		if body.ErrorCode >= 500 {
			log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
		}
		if c.Request().Method == http.MethodHead {
			err = c.NoContent(body.ErrorCode)
		} else {
			err = c.JSON(body.ErrorCode, body)
		}
		if err != nil {
			log.Error("write error response", "err", err)
		}
	}
}
