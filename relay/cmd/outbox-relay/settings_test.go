package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sagaoutbox/platform/debezium"
	"github.com/sagaoutbox/platform/relay/internal/connectapi"
	"github.com/sagaoutbox/platform/relay/internal/worker"
)

// recordingConnectors is the part of a worker the PUT handler drives: it
// keeps the configuration it is given and registers nothing.
type recordingConnectors struct {
	put map[string]string
}

func (r *recordingConnectors) Put(_ context.Context, name string, config map[string]string) (worker.Connector, bool, error) {
	r.put = config
	return worker.Connector{Name: name, Config: config}, true, nil
}

func (*recordingConnectors) Get(context.Context, string) (worker.Connector, error) {
	return worker.Connector{}, worker.ErrNotFound
}
func (*recordingConnectors) List(context.Context) ([]worker.Connector, error)     { return nil, nil }
func (*recordingConnectors) Delete(context.Context, string) error                 { return nil }
func (*recordingConnectors) Restart(context.Context, string, bool) ([]int, error) { return nil, nil }
func (*recordingConnectors) Status(_ context.Context, name string) (worker.Status, error) {
	return worker.Status{Name: name}, nil
}

// TestConnectorFileAndPutReadSettingsAlike: a configuration body is
// accepted, with the same settings, or refused, with the same message, by
// CONNECTOR_FILE at start and by PUT /connectors/{name}/config alike.
func TestConnectorFileAndPutReadSettingsAlike(t *testing.T) {
	const connector = "eventual-consistency-poc-connector"
	var shipped struct {
		Config map[string]json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(debezium.Connector, &shipped); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		edit   map[string]string // raw JSON values
		accept bool
	}{
		{"strings", nil, true},
		{"a number and a boolean", map[string]string{"tasks.max": "1", "mongodb.ssl.enabled": "true"}, true},
		{"null", map[string]string{"mongodb.authsource": "null"}, true},
		{"an object", map[string]string{"mongodb.ssl.enabled": `{"on":true}`}, false},
		{"an array", map[string]string{"mongodb.hosts": `["a","b"]`}, false},
		{"an object under a credential's key", map[string]string{"mongodb.password": `{"p":"x"}`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config := maps.Clone(shipped.Config)
			for k, v := range tt.edit {
				config[k] = json.RawMessage(v)
			}
			body, err := json.Marshal(config)
			if err != nil {
				t.Fatal(err)
			}

			path := filepath.Join(t.TempDir(), "connector.json")
			file, err := json.Marshal(map[string]any{"name": connector, "config": json.RawMessage(body)})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, file, 0o600); err != nil {
				t.Fatal(err)
			}
			fromFile, fileErr := readConnectorFile(path)

			api := &recordingConnectors{}
			srv := httptest.NewServer(connectapi.New(api, connectapi.Options{Log: slog.New(slog.DiscardHandler)}))
			defer srv.Close()
			req, err := http.NewRequest(http.MethodPut, srv.URL+"/connectors/"+connector+"/config", strings.NewReader(string(body)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()

			if got := fileErr == nil; got != tt.accept {
				t.Errorf("CONNECTOR_FILE accepted = %v (err %v), want %v", got, fileErr, tt.accept)
			}
			if got := resp.StatusCode < 300; got != tt.accept {
				t.Errorf("PUT accepted = %v (status %d, body %s), want %v", got, resp.StatusCode, data, tt.accept)
			}
			if fileErr == nil && resp.StatusCode < 300 {
				put := maps.Clone(api.put)
				put["name"] = connector // what worker.Put adds, as readConnectorFile does
				if !maps.Equal(fromFile.Config, put) {
					t.Errorf("settings differ:\nCONNECTOR_FILE %v\nPUT            %v", fromFile.Config, put)
				}
			}
			if fileErr != nil && resp.StatusCode == http.StatusBadRequest {
				var e struct {
					Message string `json:"message"`
				}
				if err := json.Unmarshal(data, &e); err != nil {
					t.Fatalf("PUT body %s: %v", data, err)
				}
				if fileErr.Error() != e.Message {
					t.Errorf("refusals differ:\nCONNECTOR_FILE %q\nPUT            %q", fileErr, e.Message)
				}
			}
		})
	}
}
