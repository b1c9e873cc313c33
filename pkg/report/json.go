package report

import (
	"encoding/json"
	"io"

	"github.com/ferry-dev/ferry/pkg/promote"
	"github.com/ferry-dev/ferry/pkg/redact"
)

// JSON writes r as an indented JSON document.
func JSON(w io.Writer, r *promote.Report, scrub redact.Redactor) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	// Secrets are masked inside JSON strings; "***" needs no escaping.
	_, err = io.WriteString(w, scrub.String(string(b))+"\n")
	return err
}
