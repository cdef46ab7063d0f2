package console

import (
	"context"
	"errors"
	"net/http"

	"github.com/sagaoutbox/platform/commonlib/httpapi"
)

// apiError is an answer the console decides itself: a status and the JSON
// body {"code", "message"[, "fields"]}.
type apiError struct {
	status int
	p      httpapi.Problem
}

func (e *apiError) Error() string { return e.p.Code + ": " + e.p.Message }

func problem(status int, code, message string) error {
	return &apiError{status: status, p: httpapi.Problem{Code: code, Message: message}}
}

// mapError is the console's httpapi.Mapper: its own answers, and what the
// services or Kafka did, in the one place errors become answers. A
// service's answer keeps its status for the client's mistakes (400, 404,
// 409) with the service's code; anything else of a service is a 502 naming
// it. Internal error text never reaches the body.
func mapError(err error) (int, httpapi.Problem, bool) {
	var ae *apiError
	var ue *UpstreamError
	var ke *KafkaError
	switch {
	case errors.As(err, &ae):
		return ae.status, ae.p, true
	case errors.As(err, &ke):
		if errors.Is(err, context.DeadlineExceeded) {
			return http.StatusGatewayTimeout, httpapi.Problem{Code: "KAFKA_TIMEOUT", Message: "kafka did not answer in time"}, true
		}
		return http.StatusBadGateway, httpapi.Problem{Code: "KAFKA_UNAVAILABLE", Message: "kafka is not reachable or refused the request (the console logs why)"}, true
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, httpapi.Problem{Code: "UPSTREAM_TIMEOUT", Message: "no answer in time"}, true
	case errors.As(err, &ue):
		switch ue.Status {
		case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict:
			p := httpapi.Problem{Code: ue.Problem.Code, Message: ue.Problem.Message, Fields: ue.Problem.Fields}
			if p.Code == "" {
				p.Code, p.Message = "UPSTREAM_ERROR", ue.Error()
			}
			return ue.Status, p, true
		}
		return http.StatusBadGateway, httpapi.Problem{Code: "UPSTREAM_UNAVAILABLE", Message: ue.Error()}, true
	}
	return 0, httpapi.Problem{}, false
}
