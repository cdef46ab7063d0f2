package connectapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/kafkatest"
	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
	"github.com/sagaoutbox/platform/commonlib/proctest"
	"github.com/sagaoutbox/platform/debezium"
	"github.com/sagaoutbox/platform/relay/internal/autotopic"
	"github.com/sagaoutbox/platform/relay/internal/configstore"
	"github.com/sagaoutbox/platform/relay/internal/connectapi"
	"github.com/sagaoutbox/platform/relay/internal/worker"
)

const (
	workerID = "relay-host:8083-test"
	name     = "eventual-consistency-poc-connector"
)

// policy is what the tests' workers allow: the shipped registration's
// databases, never the registrations' own.
var policy = worker.Policy{
	AllowedDatabases: []string{"customers-db", "payments-db"},
	OwnDatabase:      "outbox-relay",
	OwnCollection:    configstore.Collection,
}

// server runs the API over a real worker: the embedded store and an
// in-process kfake broker.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	srv, _ := serverWith(t, nil)
	return srv
}

// serverWith is server with the given credentials (nil: none); it also
// returns the store the registrations are kept in.
func serverWith(t *testing.T, creds *connectapi.Credentials) (*httptest.Server, *configstore.Store) {
	t.Helper()
	client := mongotest.Open(t).Client
	addrs := kafkatest.Start(t).ListenAddrs()
	p := kafkatest.Producer(t, addrs)

	store := configstore.New(client.Database(policy.OwnDatabase))
	w, err := worker.New(worker.Options{
		ID:       workerID,
		Store:    store,
		Client:   client,
		Policy:   policy,
		LeaseTTL: time.Second,
		Log:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	w.SetProducer(autotopic.New(p, func(ctx context.Context, topics []string) error {
		return kafkaclient.EnsureTopics(ctx, addrs, topics)
	}))
	proctest.Go(t, "the worker", w.Run)

	e := connectapi.New(w, connectapi.Options{
		Info:        connectapi.ServerInfo{Version: "outbox-relay test", Commit: "abc"},
		Health:      client.Ping,
		Log:         slog.New(slog.DiscardHandler),
		Credentials: creds,
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv, store
}

// shippedConfig is debezium/connector.json's config map, as the
// registration script PUTs it (no "name" key).
func shippedConfig(t *testing.T) map[string]any {
	t.Helper()
	var reg struct {
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(debezium.Connector, &reg); err != nil {
		t.Fatal(err)
	}
	return reg.Config
}

type response struct {
	status int
	header http.Header
	body   string
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
}

func call(t *testing.T, srv *httptest.Server, method, path string, body any) response {
	t.Helper()
	return callWith(t, srv, method, path, body, nil)
}

// callWith is call with extra request headers.
func callWith(t *testing.T, srv *httptest.Server, method, path string, body any, header http.Header) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(data))
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(data)}
}

// connectError is Connect's error body.
type connectError struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

func wantError(t *testing.T, r response, status int, contains ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	var keys map[string]any
	r.json(t, &keys)
	if got := slices.Sorted(maps.Keys(keys)); !slices.Equal(got, []string{"error_code", "message"}) {
		t.Errorf("error body keys = %q, want Connect's error_code and message", got)
	}
	var e connectError
	r.json(t, &e)
	if e.ErrorCode != status {
		t.Errorf("error_code = %d, want %d", e.ErrorCode, status)
	}
	for _, want := range contains {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message %q does not contain %q", e.Message, want)
		}
	}
}

// TestRegistrationLifecycle walks the calls scripts/register-connector.sh
// makes, then the rest of a connector's life: create, update, read,
// status, restart, delete.
func TestRegistrationLifecycle(t *testing.T) {
	srv := server(t)
	config := shippedConfig(t)

	t.Run("version", func(t *testing.T) {
		r := call(t, srv, "GET", "/", nil)
		var got map[string]string
		r.json(t, &got)
		want := map[string]string{"version": "outbox-relay test", "commit": "abc", "kafka_cluster_id": ""}
		if r.status != 200 || !reflect.DeepEqual(got, want) {
			t.Errorf("GET / = %d %v, want 200 %v", r.status, got, want)
		}
	})
	t.Run("health", func(t *testing.T) {
		r := call(t, srv, "GET", "/health", nil)
		if r.status != 200 || !strings.Contains(r.body, `"status":"healthy"`) {
			t.Errorf("GET /health = %d %s", r.status, r.body)
		}
	})
	t.Run("no connectors yet", func(t *testing.T) {
		r := call(t, srv, "GET", "/connectors", nil)
		if r.status != 200 || strings.TrimSpace(r.body) != "[]" {
			t.Errorf("GET /connectors = %d %s, want 200 []", r.status, r.body)
		}
	})
	t.Run("create", func(t *testing.T) {
		r := call(t, srv, "PUT", "/connectors/"+name+"/config", config)
		if r.status != http.StatusCreated {
			t.Fatalf("PUT = %d %s, want 201", r.status, r.body)
		}
		if loc := r.header.Get("Location"); loc != "/connectors/"+name {
			t.Errorf("Location = %q, want /connectors/%s", loc, name)
		}
		var info struct {
			Name   string            `json:"name"`
			Config map[string]string `json:"config"`
			Tasks  []struct {
				Connector string `json:"connector"`
				Task      int    `json:"task"`
			} `json:"tasks"`
			Type string `json:"type"`
		}
		r.json(t, &info)
		if info.Name != name || info.Type != "source" || info.Config["name"] != name || info.Config["topic.prefix"] != "mongodb" {
			t.Errorf("created = %+v, want the name, type source and the config with name added", info)
		}
		if len(info.Tasks) != 2 || info.Tasks[1].Connector != name || info.Tasks[1].Task != 1 {
			t.Errorf("tasks = %+v, want one per database", info.Tasks)
		}
	})
	t.Run("update", func(t *testing.T) {
		config["name"] = name // an explicit matching name is accepted
		r := call(t, srv, "PUT", "/connectors/"+name+"/config", config)
		if r.status != http.StatusOK {
			t.Fatalf("PUT again = %d %s, want 200", r.status, r.body)
		}
	})
	t.Run("list", func(t *testing.T) {
		r := call(t, srv, "GET", "/connectors", nil)
		var names []string
		r.json(t, &names)
		if r.status != 200 || !slices.Equal(names, []string{name}) {
			t.Errorf("GET /connectors = %d %v, want [%s]", r.status, names, name)
		}
	})
	t.Run("config", func(t *testing.T) {
		r := call(t, srv, "GET", "/connectors/"+name+"/config", nil)
		var got map[string]string
		r.json(t, &got)
		if r.status != 200 || got["connector.class"] != "io.debezium.connector.mongodb.MongoDbConnector" || got["tasks.max"] != "1" || got["name"] != name {
			t.Errorf("GET config = %d %v", r.status, got)
		}
	})
	t.Run("info", func(t *testing.T) {
		r := call(t, srv, "GET", "/connectors/"+name, nil)
		var keys map[string]any
		r.json(t, &keys)
		if got := slices.Sorted(maps.Keys(keys)); r.status != 200 || !slices.Equal(got, []string{"config", "name", "tasks", "type"}) {
			t.Errorf("GET connector = %d, keys %q; want 200 and name, config, tasks, type", r.status, got)
		}
	})
	t.Run("status", func(t *testing.T) {
		var r response
		proctest.EventuallyEvery(t, 5*time.Second, 20*time.Millisecond, "the connector and both tasks RUNNING", func() error {
			if r = call(t, srv, "GET", "/connectors/"+name+"/status", nil); strings.Count(r.body, `"RUNNING"`) != 3 {
				return fmt.Errorf("status %d %s", r.status, r.body)
			}
			return nil
		})
		want := `{"name":"` + name + `","connector":{"state":"RUNNING","worker_id":"` + workerID + `"},` +
			`"tasks":[{"id":0,"state":"RUNNING","worker_id":"` + workerID + `"},{"id":1,"state":"RUNNING","worker_id":"` + workerID + `"}],"type":"source"}`
		if r.status != 200 || strings.TrimSpace(r.body) != want {
			t.Errorf("GET status = %d\n got %s\nwant %s", r.status, r.body, want)
		}
	})
	t.Run("expand", func(t *testing.T) {
		r := call(t, srv, "GET", "/connectors?expand=status&expand=info", nil)
		var got map[string]map[string]json.RawMessage
		r.json(t, &got)
		if r.status != 200 || got[name]["status"] == nil || got[name]["info"] == nil {
			t.Errorf("GET /connectors?expand = %d %s", r.status, r.body)
		}
	})
	t.Run("restart", func(t *testing.T) {
		if r := call(t, srv, "POST", "/connectors/"+name+"/restart", nil); r.status != http.StatusNoContent {
			t.Errorf("plain restart = %d %s, want 204", r.status, r.body)
		}
		r := call(t, srv, "POST", "/connectors/"+name+"/restart?includeTasks=true&onlyFailed=true", nil)
		var st struct {
			Tasks []struct{ State string } `json:"tasks"`
		}
		r.json(t, &st)
		if r.status != http.StatusAccepted || len(st.Tasks) != 2 {
			t.Errorf("restart of failed tasks = %d %s, want 202 with the status", r.status, r.body)
		}
		wantError(t, call(t, srv, "POST", "/connectors/"+name+"/restart?includeTasks=maybe", nil), 400, "includeTasks")
	})
	t.Run("delete", func(t *testing.T) {
		if r := call(t, srv, "DELETE", "/connectors/"+name, nil); r.status != http.StatusNoContent {
			t.Fatalf("DELETE = %d %s, want 204", r.status, r.body)
		}
		for _, path := range []string{"", "/config", "/status"} {
			wantError(t, call(t, srv, "GET", "/connectors/"+name+path, nil), 404, "Connector "+name+" not found")
		}
		wantError(t, call(t, srv, "DELETE", "/connectors/"+name, nil), 404, "Connector "+name+" not found")
		wantError(t, call(t, srv, "POST", "/connectors/"+name+"/restart", nil), 404, "not found")
	})
}

// TestPutRefuses: a configuration the relay cannot honour is a 400 whose
// message names the setting, in Connect's words; nothing is stored.
func TestPutRefuses(t *testing.T) {
	srv := server(t)
	tests := []struct {
		name string
		body any
		path string
		want []string
	}{
		{"json keys", map[string]any{"key.converter": "org.apache.kafka.connect.json.JsonConverter"}, "",
			[]string{"Connector configuration is invalid and contains the following 1 error(s):\n", "key.converter", "org.apache.kafka.connect.json.JsonConverter"}},
		{"two refusals", map[string]any{"value.converter.schemas.enable": "true", "errors.tolerance": "all"}, "",
			[]string{"the following 2 error(s)", "value.converter.schemas.enable", "errors.tolerance"}},
		{"database pattern", map[string]any{"database.include.list": "customers-.*"}, "",
			[]string{"database.include.list", "literal database names"}},
		{"name differs", map[string]any{"name": "other"}, "",
			[]string{"Connector name configuration (other) doesn't match connector name in the URL (" + name + ")"}},
		{"not an object", "[1,2]", "", []string{"JSON object"}},
		{"not json", "{", "", []string{"JSON object"}},
		{"object value", map[string]any{"tasks.max": map[string]any{"n": 1}}, "", []string{"tasks.max"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			if edit, ok := body.(map[string]any); ok {
				config := shippedConfig(t)
				maps.Copy(config, edit)
				body = config
			}
			wantError(t, call(t, srv, "PUT", "/connectors/"+name+"/config", body), 400, tt.want...)
		})
	}
	if r := call(t, srv, "GET", "/connectors", nil); strings.TrimSpace(r.body) != "[]" {
		t.Errorf("GET /connectors after refusals = %s, want []", r.body)
	}
	t.Run("unknown path", func(t *testing.T) {
		wantError(t, call(t, srv, "GET", "/connector-plugins", nil), 404, "HTTP 404 Not Found")
	})
	t.Run("wrong method", func(t *testing.T) {
		wantError(t, call(t, srv, "POST", "/connectors/"+name+"/config", "{}"), 405, "HTTP 405 Method Not Allowed")
	})
}

// brokenStore fails every call, like an unreachable MongoDB.
type brokenStore struct{}

var errDown = errors.New("server selection error: mongodb unreachable")

func (brokenStore) Put(context.Context, string, map[string]string) (worker.Connector, bool, error) {
	return worker.Connector{}, false, errDown
}
func (brokenStore) Get(context.Context, string) (worker.Connector, error) {
	return worker.Connector{}, errDown
}
func (brokenStore) List(context.Context) ([]worker.Connector, error)     { return nil, errDown }
func (brokenStore) Delete(context.Context, string) error                 { return errDown }
func (brokenStore) Restart(context.Context, string, bool) ([]int, error) { return nil, errDown }
func (brokenStore) Status(context.Context, string) (worker.Status, error) {
	return worker.Status{}, errDown
}

// TestStoreDown: store failures are 500s with Connect's body, and the
// health endpoint says unhealthy.
func TestStoreDown(t *testing.T) {
	e := connectapi.New(brokenStore{}, connectapi.Options{
		Health: func(context.Context) error { return errDown },
		Log:    slog.New(slog.DiscardHandler),
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	wantError(t, call(t, srv, "GET", "/connectors", nil), 500, "mongodb unreachable")
	wantError(t, call(t, srv, "PUT", "/connectors/x/config", map[string]string{}), 500, "mongodb unreachable")
	r := call(t, srv, "GET", "/health", nil)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, `"status":"unhealthy"`) {
		t.Errorf("GET /health = %d %s, want 503 unhealthy", r.status, r.body)
	}
}

// panickingStore panics where brokenStore fails.
type panickingStore struct{ brokenStore }

func (panickingStore) List(context.Context) ([]worker.Connector, error) { panic("store bug") }

// TestHandlerPanic: a panic is a 500 with Connect's body, not a stack trace,
// and the server keeps serving.
func TestHandlerPanic(t *testing.T) {
	e := connectapi.New(panickingStore{}, connectapi.Options{Log: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(e)
	defer srv.Close()
	r := call(t, srv, "GET", "/connectors", nil)
	wantError(t, r, 500, "store bug")
	if strings.Contains(r.body, "goroutine") || strings.Contains(r.body, ".go:") {
		t.Errorf("body shows a stack trace: %s", r.body)
	}
	wantError(t, call(t, srv, "GET", "/connectors/x", nil), 500, "mongodb unreachable")
}

// secret is the password the tests try to smuggle in; no answer may
// contain it.
const secret = "s3cr3t-Pa55"

// TestPutRefusesUnsafe: a registration that would relay outbox-relay's own
// database, a database not allowed at start, or that carries credentials
// is a 400 naming the setting; nothing is stored and no answer quotes the
// secret.
func TestPutRefusesUnsafe(t *testing.T) {
	srv := server(t)
	tests := []struct {
		name string
		edit map[string]any
		want []string
	}{
		{"own database (the exfiltration)", map[string]any{
			"database.include.list":                     "outbox-relay",
			"predicates.isOutboxTable.pattern":          ".*",
			"transforms.outbox.route.topic.replacement": "exfil",
		}, []string{"database.include.list", `"outbox-relay" is outbox-relay's own database`}},
		{"own database among others", map[string]any{"database.include.list": "customers-db,outbox-relay"},
			[]string{"database.include.list", "own database"}},
		{"own database in another case", map[string]any{"database.include.list": "Outbox-Relay"},
			[]string{"database.include.list", "own database"}},
		{"collection list covering the registrations", map[string]any{"collection.include.list": `outbox-relay\..*`},
			[]string{"collection.include.list", "outbox-relay.outbox-relay-connectors"}},
		{"database not allowed", map[string]any{"database.include.list": "customers-db,orders-db"},
			[]string{"database.include.list", `database "orders-db" is not one this outbox-relay may follow`, "customers-db, payments-db", "RELAY_ALLOWED_DATABASES"}},
		{"allowed database in another case", map[string]any{"database.include.list": "Customers-DB"},
			[]string{"database.include.list", "Customers-DB", "RELAY_ALLOWED_DATABASES"}},
		{"mongodb.user", map[string]any{"mongodb.user": "admin-" + secret}, []string{"mongodb.user is refused", "MONGODB_URI"}},
		{"mongodb.password", map[string]any{"mongodb.password": secret}, []string{"mongodb.password is refused", "MONGODB_URI"}},
		{"user and password", map[string]any{"mongodb.user": "admin", "mongodb.password": secret},
			[]string{"the following 2 error(s)", "mongodb.password is refused", "mongodb.user is refused"}},
		{"connection string with credentials", map[string]any{"mongodb.connection.string": "mongodb://admin:" + secret + "@mongodb1:27017/?replicaSet=rs"},
			[]string{"mongodb.connection.string is refused", "credentials"}},
		{"connection string with a key file password", map[string]any{"mongodb.connection.string": "mongodb://mongodb1:27017/?tls=true&tlsCertificateKeyFilePassword=" + secret},
			[]string{"mongodb.connection.string is refused"}},
		{"keystore password", map[string]any{"mongodb.ssl.keystore.password": secret}, []string{"mongodb.ssl.keystore.password is refused"}},
		{"unknown secret setting", map[string]any{"producer.override.sasl.jaas.config": `PlainLoginModule required username="u" password="` + secret + `";`},
			[]string{"producer.override.sasl.jaas.config is refused"}},
		{"secret that is not a string", map[string]any{"mongodb.password": map[string]any{"value": secret}}, []string{"mongodb.password", "not a string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config := shippedConfig(t)
			maps.Copy(config, tt.edit)
			r := call(t, srv, "PUT", "/connectors/"+name+"/config", config)
			wantError(t, r, 400, tt.want...)
			if strings.Contains(r.body, secret) {
				t.Errorf("the answer quotes the secret: %s", r.body)
			}
		})
	}
	if r := call(t, srv, "GET", "/connectors", nil); strings.TrimSpace(r.body) != "[]" {
		t.Errorf("GET /connectors after refusals = %s, want []", r.body)
	}
}

// TestPutAcceptsConnectionSettings: connection settings without
// credentials are accepted (and ignored: the relay uses its own MongoDB).
func TestPutAcceptsConnectionSettings(t *testing.T) {
	srv := server(t)
	tests := []struct {
		name string
		edit map[string]any
	}{
		{"authsource", map[string]any{"mongodb.authsource": "admin"}},
		{"ssl", map[string]any{"mongodb.ssl.enabled": "true"}},
		{"connection string with auth options only", map[string]any{"mongodb.connection.string": "mongodb://mongodb1:27017/?authSource=admin&authMechanism=SCRAM-SHA-256"}},
		{"one allowed database", map[string]any{"database.include.list": "payments-db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config := shippedConfig(t)
			maps.Copy(config, tt.edit)
			if r := call(t, srv, "PUT", "/connectors/"+name+"/config", config); r.status != http.StatusCreated && r.status != http.StatusOK {
				t.Errorf("PUT = %d %s, want 201 or 200", r.status, r.body)
			}
		})
	}
}

// TestStoredSecretsHidden: a registration stored with credentials (by an
// earlier version that accepted them) is never shown with them, and it
// does not run: its status is FAILED, naming the settings.
func TestStoredSecretsHidden(t *testing.T) {
	srv, store := serverWith(t, nil)
	const old = "stored-before-the-fix"
	config := map[string]string{}
	for k, v := range shippedConfig(t) {
		config[k] = fmt.Sprint(v)
	}
	config["name"] = old
	config["mongodb.user"] = "admin"
	config["mongodb.password"] = secret
	config["mongodb.connection.string"] = "mongodb://admin:" + secret + "@mongodb1:27017/?replicaSet=rs"
	if _, err := store.Put(context.Background(), worker.Connector{Name: old, Config: config}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want []string
	}{
		{"/connectors/" + old + "/config", []string{`"mongodb.password":"[hidden]"`, `"mongodb.connection.string":"[hidden]"`, `"mongodb.user":"[hidden]"`, `"topic.prefix":"mongodb"`}},
		{"/connectors/" + old, []string{`"mongodb.password":"[hidden]"`}},
		{"/connectors?expand=info", []string{`"mongodb.password":"[hidden]"`}},
		{"/connectors/" + old + "/status", []string{`"state":"FAILED"`, "mongodb.password is refused", "mongodb.connection.string is refused"}},
		{"/connectors?expand=status", []string{`"state":"FAILED"`}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := call(t, srv, "GET", tt.path, nil)
			if r.status != http.StatusOK {
				t.Fatalf("GET %s = %d %s, want 200", tt.path, r.status, r.body)
			}
			if strings.Contains(r.body, secret) {
				t.Errorf("GET %s shows the secret: %s", tt.path, r.body)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("GET %s = %s\nwant it to contain %s", tt.path, r.body, w)
				}
			}
		})
	}
}

// TestBasicAuth: with credentials every path, unknown ones included, needs
// a listed user and password; anything else is a 401 with a Basic
// challenge and Connect's error body, and changes nothing.
func TestBasicAuth(t *testing.T) {
	creds, err := connectapi.ParseCredentials(strings.NewReader("# users\nalice: wonder land\nbob=builder\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := serverWith(t, creds)
	basic := func(user, password string) http.Header {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(user, password)
		return req.Header
	}
	alice := basic("alice", "wonder land")
	if r := callWith(t, srv, "PUT", "/connectors/"+name+"/config", shippedConfig(t), alice); r.status != http.StatusCreated {
		t.Fatalf("PUT as alice = %d %s, want 201", r.status, r.body)
	}
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		header http.Header
		status int
	}{
		{"no credentials", "GET", "/connectors", nil, nil, 401},
		{"no credentials, version", "GET", "/", nil, nil, 401},
		{"no credentials, unknown path", "GET", "/connector-plugins", nil, nil, 401},
		{"no credentials, config", "GET", "/connectors/" + name + "/config", nil, nil, 401},
		{"no credentials, put", "PUT", "/connectors/" + name + "/config", map[string]any{"database.include.list": "outbox-relay"}, nil, 401},
		{"no credentials, delete", "DELETE", "/connectors/" + name, nil, nil, 401},
		{"no credentials, restart", "POST", "/connectors/" + name + "/restart", nil, nil, 401},
		{"wrong password", "DELETE", "/connectors/" + name, nil, basic("alice", "wonderland"), 401},
		{"password of another user", "GET", "/connectors", nil, basic("alice", "builder"), 401},
		{"unknown user", "GET", "/connectors", nil, basic("mallory", "builder"), 401},
		{"empty user", "GET", "/connectors", nil, basic("", ""), 401},
		{"not basic", "GET", "/connectors", nil, http.Header{"Authorization": {"Bearer abc"}}, 401},
		{"malformed", "GET", "/connectors", nil, http.Header{"Authorization": {"Basic !!!"}}, 401},
		{"alice", "GET", "/connectors", nil, alice, 200},
		{"bob", "GET", "/connectors/" + name + "/config", nil, basic("bob", "builder"), 200},
		{"alice, unknown path", "GET", "/connector-plugins", nil, alice, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := callWith(t, srv, tt.method, tt.path, tt.body, tt.header)
			if tt.status != 401 {
				if r.status != tt.status {
					t.Errorf("%s %s = %d %s, want %d", tt.method, tt.path, r.status, r.body, tt.status)
				}
				return
			}
			wantError(t, r, 401, "User cannot access the resource.")
			if got, want := r.header.Get("WWW-Authenticate"), `Basic realm="outbox-relay", charset="UTF-8"`; got != want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, want)
			}
		})
	}
	// The refused calls changed nothing.
	r := callWith(t, srv, "GET", "/connectors/"+name+"/config", nil, alice)
	var got map[string]string
	r.json(t, &got)
	if r.status != 200 || got["database.include.list"] != "customers-db,payments-db" {
		t.Errorf("config after the refused calls = %d %s, want the one alice stored", r.status, r.body)
	}
}

// TestParseCredentials: the credentials file's accepted forms, and errors
// that name the line but never a password.
func TestParseCredentials(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		users int
		err   []string // nil: accepted
	}{
		{"colon", "alice:wonder", 1, nil},
		{"colon and blank, as in Connect's properties files", "alice: wonder\nbob : builder \n", 2, nil},
		{"equals", "alice=wonder", 1, nil},
		{"comments and blank lines", "# users\n! more\n\nalice: wonder\n", 1, nil},
		{"colon in the password", "alice: won:der", 1, nil},
		{"empty file", "# nobody\n", 0, []string{"no users"}},
		{"no separator", "alice wonder-" + secret, 0, []string{"line 1", "user:password"}},
		{"empty password", "alice:\n", 0, []string{"line 1", "non-empty"}},
		{"empty user", ": " + secret, 0, []string{"line 1", "non-empty"}},
		{"user twice", "alice: " + secret + "\nalice: other", 0, []string{"line 2", `"alice"`, "twice"}},
		{"JAAS file", "KafkaConnect {\n org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n file=\"/etc/connect/credentials\";\n};", 0,
			[]string{"line 1", "JAAS", "file="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds, err := connectapi.ParseCredentials(strings.NewReader(tt.file))
			if tt.err == nil {
				if err != nil {
					t.Fatalf("ParseCredentials() error = %v, want %d users", err, tt.users)
				}
				if creds.Users() != tt.users {
					t.Errorf("ParseCredentials() = %d users, want %d", creds.Users(), tt.users)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseCredentials() = %d users, want an error", creds.Users())
			}
			for _, w := range tt.err {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q quotes the password", err)
			}
		})
	}
}
