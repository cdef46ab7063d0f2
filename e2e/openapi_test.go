package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// specPath is the OpenAPI document, relative to the repository root.
const specPath = "docs/openapi.yaml"

// serviceBinaries are the binaries whose routes the document describes: their
// package, the port of their default HTTP_ADDR (as the document's servers
// name it) and their base path.
var serviceBinaries = []struct{ pkg, port, base string }{
	{"./customer/cmd/customer-service", "9990", "/customer-service"},
	{"./payment/cmd/payment-service", "9991", "/payment-service"},
}

// TestOpenAPI checks docs/openapi.yaml against the services so that it
// cannot drift: the routes the services' code registers are exactly the
// documented operations; every documented operation answers on the running
// binaries with a documented status; every path answers the methods it does
// not document with 405 and an Allow header naming exactly the documented
// ones (echo's own router says which methods it has); and the bodies of the
// answers, errors included, match the documented schemas.
func TestOpenAPI(t *testing.T) {
	skipShort(t)
	root, err := proctest.Root()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join(root, specPath))
	if err != nil {
		t.Fatalf("load %s: %v", specPath, err)
	}
	if err := doc.Validate(ctx, openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", specPath, err)
	}

	t.Run("every registered route is documented", func(t *testing.T) {
		registered := registeredRoutes(t, root)
		documented := documentedRoutes(doc)
		for _, r := range sortedKeys(registered) {
			if !documented[r] {
				t.Errorf("%s is registered (%s) but not in %s", r, registered[r], specPath)
			}
		}
		for _, r := range sortedKeys(documented) {
			if _, ok := registered[r]; !ok {
				t.Errorf("%s is in %s but no service registers it", r, specPath)
			}
		}
	})

	p := newPlatform(t)
	p.start()
	servers := map[string]string{
		serviceBinaries[0].port: fmt.Sprintf("http://127.0.0.1:%d", p.customerPort),
		serviceBinaries[1].port: fmt.Sprintf("http://127.0.0.1:%d", p.paymentPort),
	}
	v := newSpecValidator(t, doc, servers)

	// One registration that has run through the saga gives every
	// operation something to show.
	c := p.register(blueprintBody)
	p.waitStatus(c.ID, "REGISTRATION_SUCCESS", sagaTimeout)
	proctest.Eventually(t, 10*time.Second, "payment-service shows the payment", func() error {
		if ps := p.payments(c.ID); len(ps) != 1 {
			return fmt.Errorf("%d payments", len(ps))
		}
		return nil
	})

	// A registration stuck while payment-service is down, failed by an
	// operator: the fail action answers 200 for it again (idempotent).
	p.payment.Stop(t)
	stuck := p.register(blueprintBody)
	if status, _ := v.do(t, exchange{method: "POST", path: "/customer-service/customers/{id}/fail", params: map[string]string{"id": stuck.ID}, valid: true}); status != 200 {
		t.Fatalf("fail a pending registration: %d", status)
	}
	p.startPayment()
	ids := map[string]string{"/customer-service/customers/{id}/fail": stuck.ID}

	t.Run("every documented operation answers", func(t *testing.T) {
		for _, path := range doc.Paths.InMatchingOrder() {
			item := doc.Paths.Value(path)
			for _, method := range sortedKeys(item.Operations()) {
				op := item.Operations()[method]
				t.Run(method+" "+path, func(t *testing.T) {
					id := c.ID
					if other, ok := ids[path]; ok {
						id = other
					}
					x := exchange{method: method, path: path, params: map[string]string{"id": id, "customerId": c.ID}, valid: true}
					if op.RequestBody != nil {
						media := op.RequestBody.Value.Content.Get("application/json")
						if media == nil || media.Example == nil {
							t.Fatalf("%s %s: the request body has no application/json example to send", method, path)
						}
						b, err := json.Marshal(media.Example)
						if err != nil {
							t.Fatal(err)
						}
						x.contentType, x.body = "application/json", string(b)
					}
					status, _ := v.do(t, x)
					if status < 200 || status > 299 {
						t.Errorf("%s %s answered %d, want a documented 2xx", method, path, status)
					}
				})
			}
		}
	})

	bad := `{"firstName":"John","card":{"number":"12ab","cvv":12,"validThru":"05/24","balance":-1}}`
	tests := []struct {
		name       string
		x          exchange
		wantStatus int
		wantCode   string
		wantFields []string
	}{
		{"happy-path registration",
			exchange{method: "POST", path: "/customer-service/customers", contentType: "application/json", body: blueprintBody, valid: true},
			201, "", nil},
		{"failing a registration that succeeded",
			exchange{method: "POST", path: "/customer-service/customers/{id}/fail", params: map[string]string{"id": c.ID}, valid: true},
			409, "REGISTRATION_ENDED", nil},
		{"registrations of an unknown status",
			exchange{method: "GET", path: "/customer-service/registrations", params: map[string]string{"status": "DONE", "limit": "0"}},
			400, "INVALID_INPUT", []string{"status", "limit"}},
		{"registration with a trailing slash",
			exchange{method: "POST", path: "/customer-service/customers/", contentType: "application/json; charset=utf-8", body: blueprintBody, valid: true},
			201, "", nil},
		{"validation failure",
			exchange{method: "POST", path: "/customer-service/customers", contentType: "application/json", body: bad},
			400, "INVALID_INPUT", []string{"lastName", "card.holderName", "card.number", "card.cvv", "card.validThru", "card.balance"}},
		{"malformed json",
			exchange{method: "POST", path: "/customer-service/customers", contentType: "application/json", body: `{"firstName":`},
			400, "MALFORMED_JSON", nil},
		{"wrong content type",
			exchange{method: "POST", path: "/customer-service/customers", contentType: "text/plain", body: blueprintBody},
			415, "UNSUPPORTED_MEDIA_TYPE", nil},
		{"body over 64 KB",
			exchange{method: "POST", path: "/customer-service/customers", contentType: "application/json",
				body: `{"firstName":"` + strings.Repeat("x", 70<<10) + `"}`},
			413, "PAYLOAD_TOO_LARGE", nil},
		{"headers over 32 KB",
			exchange{method: "GET", path: "/customer-service/customers/{id}", params: map[string]string{"id": c.ID},
				header: http.Header{"X-Big": {strings.Repeat("x", 40<<10)}}, valid: true},
			431, "HEADERS_TOO_LARGE", nil},
		{"a customer",
			exchange{method: "GET", path: "/customer-service/customers/{id}", params: map[string]string{"id": c.ID}, valid: true},
			200, "", nil},
		{"unknown customer id",
			exchange{method: "GET", path: "/customer-service/customers/{id}", params: map[string]string{"id": "nope"}, valid: true},
			404, "CUSTOMER_NOT_FOUND", nil},
		{"a customer's payments",
			exchange{method: "GET", path: "/payment-service/payments", params: map[string]string{"customerId": c.ID}, valid: true},
			200, "", nil},
		{"payments without customerId",
			exchange{method: "GET", path: "/payment-service/payments"},
			400, "INVALID_INPUT", []string{"customerId"}},
		{"wrong method",
			exchange{method: "DELETE", path: "/customer-service/customers/{id}", params: map[string]string{"id": c.ID}},
			405, "METHOD_NOT_ALLOWED", nil},
		{"unknown path",
			exchange{method: "GET", path: "/customer-service/nowhere"},
			404, "NOT_FOUND", nil},
		{"customer-service health",
			exchange{method: "GET", path: "/customer-service/health", valid: true},
			200, "", nil},
		{"payment-service health",
			exchange{method: "GET", path: "/payment-service/health", valid: true},
			200, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := v.do(t, tt.x)
			if status != tt.wantStatus {
				t.Fatalf("got status %d, want %d: %s", status, tt.wantStatus, clip(body))
			}
			if tt.wantCode == "" {
				return
			}
			var problem struct {
				Code   string `json:"code"`
				Fields []struct {
					Field string `json:"field"`
				} `json:"fields"`
			}
			if err := json.Unmarshal(body, &problem); err != nil {
				t.Fatalf("body is not a problem: %v: %s", err, body)
			}
			var fields []string
			for _, f := range problem.Fields {
				fields = append(fields, f.Field)
			}
			if problem.Code != tt.wantCode || !slices.Equal(fields, tt.wantFields) {
				t.Errorf("got code %s, fields %v; want %s, %v", problem.Code, fields, tt.wantCode, tt.wantFields)
			}
		})
	}

	t.Run("undocumented methods answer 405", func(t *testing.T) {
		for _, path := range doc.Paths.InMatchingOrder() {
			ops := doc.Paths.Value(path).Operations()
			allow := append(sortedKeys(ops), http.MethodOptions)
			for _, method := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
				if ops[method] != nil {
					continue
				}
				t.Run(method+" "+path, func(t *testing.T) {
					x := exchange{method: method, path: path, params: map[string]string{"id": c.ID, "customerId": c.ID}, wantAllow: allow}
					want := http.StatusMethodNotAllowed
					if method == http.MethodOptions {
						want = http.StatusNoContent
					}
					if status, body := v.do(t, x); status != want {
						t.Errorf("got status %d, want %d: %s", status, want, clip(body))
					}
				})
			}
		}
	})

	// Last: with the broker gone, health answers 503 naming it. The
	// services are killed afterwards: a graceful stop without the broker
	// takes seconds, and this test is not about shutting down.
	t.Run("health without the broker", func(t *testing.T) {
		p.kafka.Stop(t)
		defer p.payment.Kill()
		defer p.customer.Kill()
		for _, path := range []string{"/customer-service/health", "/payment-service/health"} {
			status, body := v.do(t, exchange{method: "GET", path: path, valid: true})
			var health struct {
				Checks map[string]string `json:"checks"`
			}
			if err := json.Unmarshal(body, &health); err != nil || status != http.StatusServiceUnavailable || health.Checks["broker"] != "DOWN" {
				t.Errorf("%s: got %d %s, want 503 with broker DOWN", path, status, body)
			}
		}
	})
}

// exchange is one request to a running service and what the document must
// say about it.
type exchange struct {
	method      string
	path        string            // a documented path template, or an undocumented path
	params      map[string]string // values of path parameters and of the operation's query parameters
	contentType string
	body        string
	header      http.Header
	// valid says the request matches the document; otherwise the
	// document must refuse it too.
	valid bool
	// wantAllow, for a method the path does not document: the methods the
	// Allow header must name.
	wantAllow []string
}

// specValidator routes requests through the document and checks the
// running services' answers against it.
type specValidator struct {
	doc    *openapi3.T
	router routers.Router
	// servers maps a documented server's port to the running service.
	servers map[string]string
}

// newSpecValidator points every path's documented server at the running
// service with the same default port, so that a path documented under the
// wrong service cannot be routed.
func newSpecValidator(t *testing.T, doc *openapi3.T, servers map[string]string) *specValidator {
	t.Helper()
	for path, item := range doc.Paths.Map() {
		if len(item.Servers) == 0 {
			t.Fatalf("%s: path %s names no server", specPath, path)
		}
		for _, s := range item.Servers {
			u, err := url.Parse(s.URL)
			if err != nil {
				t.Fatalf("%s: path %s: server %q: %v", specPath, path, s.URL, err)
			}
			running, ok := servers[u.Port()]
			if !ok {
				t.Fatalf("%s: path %s: server %s is neither service's default address", specPath, path, s.URL)
			}
			s.URL = running
		}
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &specValidator{doc: doc, router: r, servers: servers}
}

// serviceURL is the running service's URL for a path under its base path.
func (v *specValidator) serviceURL(t *testing.T, path string) string {
	t.Helper()
	for _, bin := range serviceBinaries {
		if strings.HasPrefix(path, bin.base+"/") {
			return v.servers[bin.port] + path
		}
	}
	// A path at the root (/metrics) is served by every server it names:
	// the first one answers for it.
	if item := v.doc.Paths.Value(path); item != nil && len(item.Servers) > 0 {
		return item.Servers[0].URL + path
	}
	t.Fatalf("path %s is under neither service", path)
	return ""
}

// request builds x's request; the values of a documented operation's query
// parameters are taken from x.params.
func (v *specValidator) request(t *testing.T, x exchange) *http.Request {
	t.Helper()
	path := x.path
	for name, value := range x.params {
		path = strings.ReplaceAll(path, "{"+name+"}", url.PathEscape(value))
	}
	u := v.serviceURL(t, path)
	if item := v.doc.Paths.Value(x.path); item != nil {
		if op := item.GetOperation(x.method); op != nil {
			q := url.Values{}
			for _, p := range op.Parameters {
				if value, ok := x.params[p.Value.Name]; ok && p.Value.In == openapi3.ParameterInQuery {
					q.Set(p.Value.Name, value)
				}
			}
			if len(q) > 0 {
				u += "?" + q.Encode()
			}
		}
	}
	req, err := http.NewRequest(x.method, u, strings.NewReader(x.body))
	if err != nil {
		t.Fatal(err)
	}
	for name, values := range x.header {
		req.Header[name] = values
	}
	if x.contentType != "" {
		req.Header.Set("Content-Type", x.contentType)
	}
	return req
}

// do sends x and checks the answer against the document: for a documented
// operation, the request is valid or not as x says, and the answer's
// status, headers and body are documented for the operation; for an
// undocumented path or method, the answer is the document's NotFound or
// MethodNotAllowed (Options for OPTIONS) answer.
func (v *specValidator) do(t *testing.T, x exchange) (int, []byte) {
	t.Helper()
	ctx := context.Background()
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	req := v.request(t, x)
	route, params, routeErr := v.router.FindRoute(req)
	var input *openapi3filter.RequestValidationInput
	switch {
	case routeErr == nil:
		input = &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
		err := openapi3filter.ValidateRequest(ctx, input)
		if x.valid && err != nil {
			t.Errorf("%s %s: the document refuses the request: %v", x.method, x.path, err)
		}
		if !x.valid && err == nil {
			t.Errorf("%s %s: the document accepts the request, which the test sends as a bad one", x.method, x.path)
		}
	case errors.Is(routeErr, routers.ErrPathNotFound), errors.Is(routeErr, routers.ErrMethodNotAllowed):
		// The document has no operation for it: the only answer it
		// documents is the one every path gives.
		answer := "NotFound"
		if errors.Is(routeErr, routers.ErrMethodNotAllowed) {
			answer = "MethodNotAllowed"
			if x.method == http.MethodOptions {
				answer = "Options"
			}
		}
		input = v.undocumented(t, req, answer)
	default:
		t.Fatalf("%s %s: %v", x.method, x.path, routeErr)
	}

	resp, err := http.DefaultClient.Do(v.request(t, x))
	if err != nil {
		t.Fatalf("%s %s: %v", x.method, x.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if x.wantAllow != nil {
		got := strings.Split(resp.Header.Get("Allow"), ", ")
		want := slices.Clone(x.wantAllow)
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s %s: Allow is %v, want the documented methods and OPTIONS: %v", x.method, x.path, got, want)
		}
	}
	if x.method == http.MethodHead && len(body) != 0 {
		t.Errorf("HEAD %s: got a body: %s", x.path, body)
	}
	if routeErr != nil && input.Route.Operation.Responses.Status(resp.StatusCode) == nil {
		t.Errorf("%s %s answered %d, but the document has no such operation (%v): %s", x.method, x.path, resp.StatusCode, routeErr, clip(body))
		return resp.StatusCode, body
	}
	err = openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                opts,
	})
	if err != nil {
		t.Errorf("%s %s: the answer does not match the document: %v\nanswer: %d %s", x.method, x.path, err, resp.StatusCode, clip(body))
	}
	return resp.StatusCode, body
}

// undocumented is the validation input for a request the document has no
// operation for: one whose only answer is the named component response.
func (v *specValidator) undocumented(t *testing.T, req *http.Request, answer string) *openapi3filter.RequestValidationInput {
	t.Helper()
	ref, ok := v.doc.Components.Responses[answer]
	if !ok {
		t.Fatalf("%s has no components/responses/%s", specPath, answer)
	}
	status := map[string]int{"NotFound": 404, "MethodNotAllowed": 405, "Options": 204}[answer]
	op := &openapi3.Operation{Responses: openapi3.NewResponses(openapi3.WithStatus(status, ref))}
	return &openapi3filter.RequestValidationInput{
		Request: req,
		Route:   &routers.Route{Spec: v.doc, Path: req.URL.Path, Method: req.Method, Operation: op},
	}
}

// documentedRoutes is the document's operations as "METHOD /path/{param}".
func documentedRoutes(doc *openapi3.T) map[string]bool {
	out := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out[method+" "+path] = true
		}
	}
	return out
}

// routeMethods are the methods of echo's Echo, Group and Router that add
// routes or hand out something that does. Each use in a service binary's
// own packages must be one registeredRoutes can read, or it fails.
var routeMethods = map[string]bool{
	"CONNECT": true, "DELETE": true, "GET": true, "HEAD": true, "OPTIONS": true,
	"PATCH": true, "POST": true, "PUT": true, "TRACE": true,
	"Any": true, "Match": true, "Add": true, "Static": true, "StaticFS": true,
	"File": true, "FileFS": true, "RouteNotFound": true, "Group": true,
	"Host": true, "Router": true, "Routers": true,
}

const (
	echoPkg     = "github.com/labstack/echo/v4"
	appPkg      = "github.com/sagaoutbox/platform/commonlib/app"
	platformPkg = "github.com/sagaoutbox/platform/"
)

// registeredRoutes reads the routes the service binaries register from
// their source, as "METHOD /path/{param}" with where it is registered. The
// binaries' own packages (everything under github.com/sagaoutbox/platform
// they link) are type-checked, and every use of an echo method that adds a
// route is read: a constant path on the service's group (app.NewAPI's
// e.Group(spec.BasePath), the BasePath of the binary's app.Spec) or on the
// echo itself. A use it cannot read (a computed path, Any, Match, another
// group, a method value, an HTTP-verb method on a type of the services'
// own) fails the test rather than being skipped. Running binaries cannot
// list their routes (echo has no endpoint for it and app.API keeps its echo
// to itself); the other subtests check what this finds on the running
// services, and each documented path's methods against echo's Allow header.
func registeredRoutes(t *testing.T, root string) map[string]string {
	t.Helper()
	routes := map[string]string{}
	checked := map[string]*checkedPackage{}
	for _, bin := range serviceBinaries {
		pkgs := listDeps(t, root, bin.pkg)
		exports := map[string]string{}
		for _, p := range pkgs {
			exports[p.ImportPath] = p.Export
		}
		imp := importer.ForCompiler(token.NewFileSet(), "gc", func(path string) (io.ReadCloser, error) {
			if exports[path] == "" {
				return nil, fmt.Errorf("no export data for %s", path)
			}
			return os.Open(exports[path])
		})
		basePath := ""
		var found []foundRoute
		for _, p := range pkgs {
			if !strings.HasPrefix(p.ImportPath, platformPkg) {
				continue
			}
			cp := checked[p.ImportPath]
			if cp == nil {
				cp = checkPackage(t, p, imp)
				checked[p.ImportPath] = cp
			}
			found = append(found, cp.routes...)
			if p.Name == "main" {
				if len(cp.basePaths) != 1 {
					t.Fatalf("%s: found %d app.Spec literals with a constant BasePath, want 1", p.ImportPath, len(cp.basePaths))
				}
				basePath = cp.basePaths[0]
				if basePath != bin.base {
					t.Errorf("%s: the Spec's BasePath is %s, the test expects %s", p.ImportPath, basePath, bin.base)
				}
			}
		}
		if basePath == "" {
			t.Fatalf("%s: no main package among its dependencies", bin.pkg)
		}
		for _, r := range found {
			path := r.path
			if r.onGroup {
				path = basePath + path
			}
			routes[r.method+" "+openAPIPath(t, path, r.pos)] = r.pos
		}
	}
	return routes
}

// foundRoute is one route registration read from the source.
type foundRoute struct {
	method, path string
	onGroup      bool // relative to the service's group
	pos          string
}

type checkedPackage struct {
	routes    []foundRoute
	basePaths []string
}

// goPackage is what `go list -json` says of a package.
type goPackage struct {
	ImportPath string
	Name       string
	Dir        string
	Export     string
	GoFiles    []string
	CgoFiles   []string
}

// listDeps lists pkg and its dependencies, with export data, from the
// repository root (the workspace).
func listDeps(t *testing.T, root, pkg string) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-export", "-json=ImportPath,Name,Dir,Export,GoFiles,CgoFiles", pkg)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", pkg, err, stderr.String())
	}
	var pkgs []goPackage
	for dec := json.NewDecoder(bytes.NewReader(out)); dec.More(); {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// checkPackage type-checks one of the platform's packages from its source
// and reads its route registrations and app.Spec base paths.
func checkPackage(t *testing.T, p goPackage, imp types.Importer) *checkedPackage {
	t.Helper()
	if len(p.CgoFiles) > 0 {
		t.Fatalf("%s has cgo files, which registeredRoutes cannot read", p.ImportPath)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range p.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	info := &types.Info{
		Types:      map[ast.Expr]types.TypeAndValue{},
		Selections: map[*ast.SelectorExpr]*types.Selection{},
		Uses:       map[*ast.Ident]types.Object{},
	}
	if _, err := (&types.Config{Importer: imp}).Check(p.ImportPath, fset, files, info); err != nil {
		t.Fatalf("type-check %s: %v", p.ImportPath, err)
	}
	out := &checkedPackage{}
	calls := map[*ast.SelectorExpr]*ast.CallExpr{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok {
					calls[sel] = n
				}
			case *ast.CompositeLit:
				if named, ok := info.Types[n].Type.(*types.Named); ok && named.Obj().Name() == "Spec" && named.Obj().Pkg().Path() == appPkg {
					for _, el := range n.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok && fmt.Sprint(kv.Key) == "BasePath" {
							if v := info.Types[kv.Value].Value; v != nil && v.Kind() == constant.String {
								out.basePaths = append(out.basePaths, constant.StringVal(v))
							}
						}
					}
				}
			}
			return true
		})
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			fn, ok := info.Uses[sel.Sel].(*types.Func)
			if !ok || !routeMethods[fn.Name()] {
				return true
			}
			pos := fset.Position(sel.Pos())
			where := fmt.Sprintf("%s:%d", filepath.Base(filepath.Dir(pos.Filename))+"/"+filepath.Base(pos.Filename), pos.Line)
			recv := receiverName(fn)
			isVerb := strings.ToUpper(fn.Name()) == fn.Name()
			if fn.Pkg() == nil || fn.Pkg().Path() != echoPkg {
				if isVerb {
					t.Errorf("%s: %s.%s may register a route in a way the test cannot read; register it on the echo group or teach registeredRoutes", where, recv, fn.Name())
				}
				return true
			}
			if recv != "Echo" && recv != "Group" && recv != "Router" {
				return true
			}
			call := calls[sel]
			cannotRead := func(why string) {
				t.Errorf("%s: echo.%s.%s: %s; registeredRoutes cannot read this route registration (document the route and teach the test)", where, recv, fn.Name(), why)
			}
			switch {
			case call == nil:
				cannotRead("used as a value, not called")
			case fn.Name() == "Group" && recv == "Echo" && p.ImportPath == appPkg && len(call.Args) == 1 && types.ExprString(call.Args[0]) == "spec.BasePath":
				// app.NewAPI's service group: its routes are relative to the
				// binary's Spec.BasePath.
			case isVerb && recv != "Router":
				v := info.Types[call.Args[0]].Value
				if v == nil || v.Kind() != constant.String {
					cannotRead("the path is not a constant")
					return true
				}
				out.routes = append(out.routes, foundRoute{method: fn.Name(), path: constant.StringVal(v), onGroup: recv == "Group", pos: where})
			default:
				cannotRead("not a single method on a constant path")
			}
			return true
		})
	}
	return out
}

// receiverName is the name of fn's receiver type, or "" for a function.
func receiverName(fn *types.Func) string {
	sig, ok := fn.Type().(*types.Signature)
	if !ok || sig.Recv() == nil {
		return ""
	}
	typ := sig.Recv().Type()
	if ptr, ok := typ.(*types.Pointer); ok {
		typ = ptr.Elem()
	}
	if named, ok := typ.(*types.Named); ok {
		return named.Obj().Name()
	}
	return typ.String()
}

// openAPIPath writes an echo path (/customers/:id) as OpenAPI does
// (/customers/{id}).
func openAPIPath(t *testing.T, path, pos string) string {
	t.Helper()
	parts := strings.Split(path, "/")
	for i, part := range parts {
		switch {
		case strings.HasPrefix(part, ":"):
			parts[i] = "{" + part[1:] + "}"
		case strings.Contains(part, "*"):
			t.Errorf("%s: the wildcard path %s has no OpenAPI equivalent; teach the test", pos, path)
		}
	}
	return strings.Join(parts, "/")
}

// clip shortens a body for a failure message.
func clip(body []byte) string {
	if len(body) > 300 {
		return string(body[:300]) + "…"
	}
	return string(body)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
