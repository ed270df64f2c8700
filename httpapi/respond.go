package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/ticket-enricher/enricher"
)

// codeMethodNotAllowed is the code of a 405. It is an HTTP notion, not a
// domain one, so it lives here rather than among the domain's codes.
const codeMethodNotAllowed = "method_not_allowed"

// internalMessage is all a client learns about a 500: the cause may hold
// paths, SQL or credentials, so it goes to the log with the request id.
const internalMessage = "internal error"

// statusOf is the one table from error codes to HTTP statuses. Unknown
// codes are 500, so a new failure is never reported as the client's fault.
func statusOf(code string) int {
	switch code {
	case enricher.EINVALID, enricher.EINVALIDTICKET:
		return http.StatusBadRequest
	case enricher.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case enricher.ENOTFOUND:
		return http.StatusNotFound
	case codeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case enricher.ECONFLICT:
		return http.StatusConflict
	case enricher.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case enricher.ENOTREADY:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Details []enricher.Detail `json:"details"`
}

// fallbackBody is sent when a response cannot be encoded; it is a constant
// so that writing it cannot fail in turn.
const fallbackBody = `{"error":{"code":"internal","message":"internal error","details":[]}}` + "\n"

// writeJSON encodes v and sends it with status. The body is encoded before
// anything is written, so an encoding failure still becomes a clean 500.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		s.log.ErrorContext(r.Context(), "encode response", "request_id", RequestID(r.Context()), "err", err)
		status, data = http.StatusInternalServerError, []byte(fallbackBody)
	} else {
		data = append(data, '\n')
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(data)
}

// writeError sends err in the error shape with the status of its code. A
// 500 carries only "internal error": the real error is logged with the
// request id, never sent.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := enricher.ErrorCode(err)
	status := statusOf(code)
	if status == http.StatusInternalServerError {
		s.logInternal(r, err)
		s.writeErrorBody(w, r, status, enricher.EINTERNAL, internalMessage, nil)
		return
	}
	s.writeErrorBody(w, r, status, code, enricher.ErrorMessage(err), enricher.ErrorDetails(err))
}

// writeErrorBody sends an error with exactly the given parts, for the
// callers that build the details themselves (a partly accepted batch).
func (s *Server) writeErrorBody(w http.ResponseWriter, r *http.Request, status int, code, message string, details []enricher.Detail) {
	if details == nil {
		details = []enricher.Detail{}
	}
	if status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="enricher"`)
	}
	s.writeJSON(w, r, status, errorBody{Error: errorPayload{Code: code, Message: message, Details: details}})
}

// logInternal records the cause of a 500 where an operator can find it from
// the request id the client got.
func (s *Server) logInternal(r *http.Request, err error) {
	attrs := []any{"request_id", RequestID(r.Context()), "method", r.Method, "path", r.URL.Path, "err", err}
	// An *enricher.Error prints its message, not its cause; the log needs both.
	if e, ok := errors.AsType[*enricher.Error](err); ok && e.Err != nil {
		attrs = append(attrs, "cause", e.Err)
	}
	s.log.ErrorContext(r.Context(), "internal error", attrs...)
}
