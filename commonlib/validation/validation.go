// Package validation collects what is wrong with an input, field by field,
// so a caller can report every bad field at once.
//
// It holds no rules: the domain packages decide what is valid.
package validation

import (
	"fmt"
	"strings"
)

// FieldError says what is wrong with one field, named by its JSON path
// (e.g. "card.number").
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Errors is a list of field errors; its zero value holds none.
type Errors []FieldError

// Add records that field is invalid.
func (e *Errors) Add(field, format string, args ...any) {
	*e = append(*e, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns e as an error, or nil when it holds no field error.
func (e Errors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

// Error lists the fields and what is wrong with them.
func (e Errors) Error() string {
	parts := make([]string, len(e))
	for i, f := range e {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}
